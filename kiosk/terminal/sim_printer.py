"""A simulated ESC/POS ticket printer on a pty, for the demo and the tests.

``SimulatedPrinter`` opens a pty; the kiosk opens ``printer.path`` like any
serial device. A thread reads the byte stream and decodes it, as a printer
would, into ``Receipt`` objects: text decoded with the declared code page
(the default one, CP437, until ``ESC t n`` says otherwise — so a ticket that
forgets to pin its page comes out as garbage here too), size, emphasis and
alignment, QR payloads, raster images as bitmaps, one receipt per cut. It
answers ``DLE EOT`` from a configurable state, or not at all, and can stall
(stop reading) so that the writer's port fills up and its writes block.

``SimulatedTicketPrinter`` is the simulated :class:`~kiosk.terminal.hardware.TicketPrinter`
the kiosk prints to with ``printer = "sim"``: the real driver on such a pty.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Callable, Final, Mapping

import numpy as np

from kiosk.terminal.escpos import Align, Cut, PrinterProfile, TicketSlip
from kiosk.terminal.hardware import EscPosPrinter, PrinterState, PrintResult


class SimState(StrEnum):
    """What the simulated printer reports when asked with DLE EOT."""

    OK = "ok"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    ERROR = "error"
    NO_ANSWER = "no_answer"  # reads and prints, but never answers a status query


# Answers to DLE EOT 1, 2, 4 (0x12 is the fixed bit pattern with nothing set).
STATUS_REPLIES: Final[Mapping[SimState, Mapping[int, int]]] = {
    SimState.OK: {1: 0x12, 2: 0x12, 4: 0x12},
    SimState.PAPER_NEAR_END: {1: 0x12, 2: 0x12, 4: 0x12 | 0x0C},
    SimState.PAPER_OUT: {1: 0x12 | 0x08, 2: 0x12 | 0x20, 4: 0x12 | 0x0C | 0x60},
    SimState.COVER_OPEN: {1: 0x12 | 0x08, 2: 0x12 | 0x04, 4: 0x12},
    SimState.OFFLINE: {1: 0x12 | 0x08, 2: 0x12, 4: 0x12},
    SimState.ERROR: {1: 0x12 | 0x08, 2: 0x12 | 0x40, 4: 0x12},
}


@dataclass(slots=True)
class ReceiptLine:
    """One printed line and how it looked."""

    text: str
    align: Align = Align.LEFT
    bold: bool = False
    width: int = 1  # character magnification
    height: int = 1

    def markup(self) -> str:
        """«[center][b][3x3]А042»: the line with its look as visible markers."""
        marks = f"[{self.align}]" + ("[b]" if self.bold else "")
        if (self.width, self.height) != (1, 1):
            marks += f"[{self.width}x{self.height}]"
        return marks + self.text


@dataclass(slots=True)
class Receipt:
    """What one cut piece of paper carries."""

    lines: list[ReceiptLine] = field(default_factory=list)
    qr_payloads: list[str] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)  # bool, True = black dot
    code_pages: list[str] = field(default_factory=list)  # as declared by ESC t, in order
    unknown: list[str] = field(default_factory=list)  # commands the simulator skipped
    cut: Cut | None = None

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def markup(self) -> str:
        return "\n".join(line.markup() for line in self.lines)

    def save_images(self, directory: Path, stem: str = "receipt") -> list[Path]:
        """Write each raster image as a PNG (via pygame) and return the paths."""
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame
        import pygame.surfarray

        paths = []
        for i, image in enumerate(self.images):
            pixels = np.where(image, 0, 255).astype(np.uint8).T  # surfarray wants (x, y)
            surface = pygame.surfarray.make_surface(np.stack([pixels] * 3, axis=2))
            path = directory / f"{stem}-{i}.png"
            pygame.image.save(surface, str(path))
            paths.append(path)
        return paths


# Fixed-length commands we only skip: prefix + command byte → number of parameter bytes.
_SKIP: Final[Mapping[bytes, int]] = {
    b"\x1b2": 0, b"\x1b3": 1, b"\x1b-": 1, b"\x1bM": 1, b"\x1bG": 1, b"\x1b ": 1, b"\x1b{": 1,
    b"\x1bR": 1, b"\x1br": 1, b"\x1bJ": 1, b"\x1bV": 1, b"\x1bp": 3, b"\x1b$": 2, b"\x1bc": 2,
    b"\x1dB": 1, b"\x1dL": 2, b"\x1dW": 2, b"\x1dH": 1, b"\x1df": 1, b"\x1dh": 1, b"\x1dw": 1,
    b"\x1da": 1, b"\x1dr": 1, b"\x1dI": 1, b"\x1dP": 2, b"\x1db": 1, b"\x1d/": 1,
    b"\x1c!": 1, b"\x1cC": 1, b"\x1c-": 1, b"\x1cS": 2, b"\x1cW": 1, b"\x1cp": 2,
    b"\x10\x05": 1, b"\x10\x14": 3,
}
_MAX_IMAGE_BYTES: Final = 4 * 1024 * 1024  # a header asking for more is garbage, not an image


class EscPosDecoder:
    """Turns an ESC/POS byte stream, fed in arbitrary chunks, into receipts.

    It never raises on bad input: an unknown command is skipped and noted in
    ``Receipt.unknown``; an incomplete one waits for more bytes.
    """

    def __init__(self, code_pages: Mapping[int, str],
                 on_status_query: Callable[[int], None] | None = None,
                 kanji_at_start: bool = False) -> None:
        self.code_pages = dict(code_pages)
        self.on_status_query = on_status_query
        self.receipts: list[Receipt] = []
        self.current = Receipt()
        self._buf = bytearray()
        self._kanji = kanji_at_start  # Chinese clones: survives ESC @, only FS . ends it
        self._line: list[str] = []
        self._last_was_image = False
        self._reset_modes()

    def _reset_modes(self) -> None:
        self._codec = self.code_pages.get(0, "cp437")
        self._align, self._bold, self._width, self._height = Align.LEFT, False, 1, 1
        self._line_look: tuple[Align, bool, int, int] | None = None
        self._qr_data: str | None = None

    def feed(self, data: bytes) -> None:
        self._buf += data
        pos = 0
        while pos < len(self._buf):
            step = self._step(pos)
            if step is None:  # incomplete command: keep the tail for the next chunk
                break
            pos = step
        del self._buf[:pos]

    # --- output ---

    def _char(self, text: str) -> None:
        if self._line_look is None:
            self._line_look = (self._align, self._bold, self._width, self._height)
        else:  # a line is as big and as bold as its biggest, boldest character
            a, b, w, h = self._line_look
            self._line_look = (a, b or self._bold, max(w, self._width), max(h, self._height))
        self._line.append(text)
        self._last_was_image = False

    def _end_line(self, force: bool = True) -> None:
        if not self._line and not force:
            return
        look = self._line_look or (self._align, self._bold, self._width, self._height)
        self.current.lines.append(ReceiptLine("".join(self._line), *look))
        self._line, self._line_look = [], None
        self._last_was_image = False

    def _image(self, bitmap: np.ndarray) -> None:
        self._end_line(force=False)
        images = self.current.images
        if self._last_was_image and images and images[-1].shape[1] == bitmap.shape[1]:
            images[-1] = np.vstack([images[-1], bitmap])  # bands of one picture
        else:
            images.append(bitmap)
        self._last_was_image = True

    def _cut(self, kind: Cut) -> None:
        self._end_line(force=False)
        self.current.cut = kind
        self.receipts.append(self.current)
        self.current = Receipt()
        self._last_was_image = False

    # --- parsing: each returns the position after the command, or None if incomplete ---

    def _step(self, pos: int) -> int | None:
        buf = self._buf
        byte = buf[pos]
        if byte == 0x0A:
            self._end_line()
            return pos + 1
        if byte in (0x1B, 0x1D, 0x1C, 0x10):
            if pos + 1 >= len(buf):
                return None
            return self._command(pos, bytes(buf[pos:pos + 2]))
        if byte == 0x09:
            self._char(" ")
        elif byte >= 0x20 and byte != 0x7F:
            if self._kanji and byte >= 0x81:
                if pos + 1 >= len(buf):
                    return None
                self._char(bytes(buf[pos:pos + 2]).decode("gbk", errors="replace"))
                return pos + 2
            self._char(bytes([byte]).decode(self._codec, errors="replace"))
        return pos + 1  # other control bytes (CR, NUL, …) print nothing

    def _command(self, pos: int, head: bytes) -> int | None:
        buf = self._buf

        def arg(i: int) -> int | None:
            return buf[pos + 1 + i] if pos + 1 + i < len(buf) else None

        if head in (b"\x1b@", b"\x1c.", b"\x1c&"):
            if head == b"\x1b@":
                self._end_line(force=False)
                self._reset_modes()
            else:
                self._kanji = head == b"\x1c&"
            return pos + 2
        if head == b"\x1dv":
            return self._raster(pos)
        if head == b"\x1d(":
            return self._function(pos)
        if head == b"\x1dV":
            return self._gs_cut(pos)
        if head == b"\x1b*":
            m, low, high = arg(1), arg(2), arg(3)
            if high is None:
                return None
            return pos + 5 + (low + 256 * high) * (3 if m in (32, 33) else 1)
        n = arg(1)
        if head in (b"\x1bt", b"\x1ba", b"\x1bE", b"\x1b!", b"\x1bd", b"\x1d!", b"\x10\x04"):
            if n is None:
                return None
            self._mode(head, n)
            return pos + 3
        if head in _SKIP:
            end = pos + 2 + _SKIP[head]
            return end if end <= len(buf) else None
        self.current.unknown.append(head.hex(" "))
        return pos + 2 if head[1] not in (0x1B, 0x1D, 0x1C, 0x10, 0x0A) else pos + 1

    def _mode(self, head: bytes, n: int) -> None:
        if head == b"\x1bt":
            codec = self.code_pages.get(n)
            self.current.code_pages.append(codec or f"unknown:{n}")
            self._codec = codec or "cp437"  # unknown table entry: what a real printer shows is garbage
        elif head == b"\x1ba":
            self._align = {0: Align.LEFT, 1: Align.CENTER, 2: Align.RIGHT}.get(n % 48, Align.LEFT)
        elif head == b"\x1bE":
            self._bold = bool(n & 1)
        elif head == b"\x1b!":
            self._bold = bool(n & 0x08)
            self._width, self._height = (2 if n & 0x20 else 1), (2 if n & 0x10 else 1)
        elif head == b"\x1d!":
            self._width, self._height = (n >> 4 & 7) + 1, (n & 7) + 1
        elif head == b"\x1bd":
            self._end_line(force=bool(self._line) or n > 0)
            for _ in range(max(0, n - 1)):
                self._end_line()
        elif head == b"\x10\x04" and self.on_status_query is not None:
            self.on_status_query(n)

    def _raster(self, pos: int) -> int | None:  # GS v 0 m xL xH yL yH d…
        header = self._buf[pos:pos + 8]
        if len(header) < 8:
            return None
        if header[2] != 0x30:
            self.current.unknown.append("1d 76")
            return pos + 2
        width_bytes, height = header[4] + 256 * header[5], header[6] + 256 * header[7]
        size = width_bytes * height
        if size == 0 or size > _MAX_IMAGE_BYTES:
            self.current.unknown.append("1d 76 30 (bad size)")
            return pos + 8
        if pos + 8 + size > len(self._buf):
            return None
        data = np.frombuffer(bytes(self._buf[pos + 8:pos + 8 + size]), dtype=np.uint8)
        self._image(np.unpackbits(data.reshape(height, width_bytes), axis=1).astype(bool))
        return pos + 8 + size

    def _function(self, pos: int) -> int | None:  # GS ( fn pL pH data…
        header = self._buf[pos:pos + 5]
        if len(header) < 5:
            return None
        end = pos + 5 + header[3] + 256 * header[4]
        if end > len(self._buf):
            return None
        params = bytes(self._buf[pos + 5:end])
        if header[2] == ord("k") and len(params) >= 2 and params[0] == 0x31:  # QR code
            if params[1] == 0x50 and len(params) >= 3:  # store
                self._qr_data = params[3:].decode("utf-8", errors="replace")
            elif params[1] == 0x51 and self._qr_data is not None:  # print
                self._end_line(force=False)
                self.current.qr_payloads.append(self._qr_data)
                self._last_was_image = False
        return end

    def _gs_cut(self, pos: int) -> int | None:  # GS V m [n]
        m = self._buf[pos + 2] if pos + 2 < len(self._buf) else None
        if m is None:
            return None
        if m in (0, 48, 1, 49):
            self._cut(Cut.FULL if m in (0, 48) else Cut.PARTIAL)
            return pos + 3
        if m in (65, 66, 97, 98, 103, 104):
            if pos + 3 >= len(self._buf):
                return None
            self._cut(Cut.FULL if m in (65, 97, 103) else Cut.PARTIAL)
            return pos + 4
        self.current.unknown.append(f"1d 56 {m:02x}")
        return pos + 3


class SimulatedPrinter:
    """An ESC/POS printer on a pty, decoding what it is sent; use as a context manager.

    ``state`` may be changed at any time; ``stall(after_bytes)`` makes it stop
    reading once that many more bytes have arrived, ``resume()`` reads again.
    """

    def __init__(self, profile: PrinterProfile, state: SimState = SimState.OK,
                 kanji_at_start: bool = False) -> None:
        self.profile = profile
        self.state = state
        self.bytes_received = 0
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo of our own answers, no newline translation
        self.path = os.ttyname(self._slave)
        self._decoder = EscPosDecoder(profile.code_pages or {0: "cp437"}, self._answer, kanji_at_start)
        self._budget: int | None = None  # bytes still to read before stalling; None = no limit
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sim-printer {self.path}", daemon=True)

    def __enter__(self) -> SimulatedPrinter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    @property
    def receipts(self) -> list[Receipt]:
        with self._changed:
            return list(self._decoder.receipts)

    @property
    def pending(self) -> Receipt:
        """What has been printed since the last cut."""
        return self._decoder.current

    def stall(self, after_bytes: int = 0) -> None:
        with self._changed:
            self._budget = after_bytes

    def resume(self) -> None:
        with self._changed:
            self._budget = None

    def wait_for_receipts(self, count: int, timeout: float = 5.0) -> list[Receipt]:
        """Block until ``count`` receipts are cut; raises TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._decoder.receipts) >= count, timeout):
                raise TimeoutError(f"{len(self._decoder.receipts)} of {count} receipts after {timeout} s")
            return list(self._decoder.receipts)

    def _answer(self, n: int) -> None:
        reply = STATUS_REPLIES.get(self.state, {}).get(n)
        if reply is not None:
            os.write(self._master, bytes([reply]))

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._changed:
                budget = self._budget
            if budget == 0:
                self._stop.wait(0.02)
                continue
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096 if budget is None else min(4096, budget))
            except OSError:
                break  # pty closed
            with self._changed:
                if self._budget is not None:
                    self._budget = max(0, self._budget - len(data))
                self.bytes_received += len(data)
                self._decoder.feed(data)
                self._changed.notify_all()


class SimulatedTicketPrinter:
    """The simulated :class:`~kiosk.terminal.hardware.TicketPrinter`: the real driver on a pretend printer.

    Chosen by configuration (``printer = "sim"``). :attr:`device` is the
    :class:`SimulatedPrinter` on its pty, which the demo and the tests read
    receipts from, set to another state or stall; everything on the kiosk's
    side of the pty — encoding, status queries, timeouts — is the real code
    of :class:`~kiosk.terminal.hardware.EscPosPrinter`.
    """

    def __init__(self, profile: PrinterProfile, *, baudrate: int = 19200, write_timeout: float = 3.0) -> None:
        self.device = SimulatedPrinter(profile)
        self.driver = EscPosPrinter(self.device.path, profile, baudrate=baudrate, write_timeout=write_timeout)

    @property
    def last_state(self) -> PrinterState:
        return self.driver.last_state

    def start(self) -> None:
        self.device.start()
        self.driver.start()

    async def status_async(self) -> PrinterState:
        return await self.driver.status_async()

    async def print_ticket_async(self, slip: TicketSlip) -> PrintResult:
        return await self.driver.print_ticket_async(slip)

    def close(self) -> None:
        """Close the driver, then stop the pretend printer and close its pty."""
        self.driver.close()
        self.device.stop()
