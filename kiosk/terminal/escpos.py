"""ESC/POS encoder for the kiosk's ticket printer: profiles, commands, the ticket layout.

Pure: it builds bytes and bitmaps and does no I/O (``kiosk.terminal.hardware`` sends them).

Ukrainian needs a code page with І/і, Ї/ї, Є/є and Ґ/ґ: CP1251 or CP1125 (CP866
lacks І and Ґ, CP855 lacks Ґ). The ``ESC t n`` number of a code page differs by
vendor, so a profile names its number explicitly, and one code page is pinned
for the whole ticket and re-sent after every ``ESC @`` and every image (the
printer falls back to its default page). Printers whose code pages are unknown
get the whole ticket drawn with the bundled DejaVu Sans as one raster image.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Callable, Final, Mapping

import numpy as np
import segno

from kiosk.speech import PERSON

ESC: Final = b"\x1b"
GS: Final = b"\x1d"
FS: Final = b"\x1c"
LF: Final = b"\n"

UKRAINIAN_LETTERS: Final = "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯабвгґдеєжзиіїйклмнопрстуфхцчшщьюя"

# Epson's ESC t table (TM series), the pages that matter here; 0 is the power-on default.
EPSON_CODE_PAGES: Final[Mapping[int, str]] = {
    0: "cp437", 17: "cp866", 34: "cp855", 44: "cp1125", 46: "cp1251"}

from edge.fonts import FONT_DIR  # noqa: E402  (one font family for every screen and ticket)
FONT_REGULAR: Final = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD: Final = FONT_DIR / "DejaVuSans-Bold.ttf"

# Punctuation a code page may lack, replaced by its plain form (letters never are):
# CP1125 has no typographic apostrophe, guillemets or dashes, and «п’ять» must still print.
PUNCTUATION_FALLBACK: Final[Mapping[str, str]] = {
    "’": "'", "ʼ": "'", "‘": "'", "«": '"', "»": '"', "„": '"', "“": '"', "”": '"',
    "–": "-", "—": "-", "\u00a0": " ", "…": "..."}


class EscPosError(ValueError):
    """A ticket that cannot be encoded for this printer (bad profile, text or size)."""


class UnencodableText(EscPosError):
    """Text holds a character the ticket's code page cannot print; we refuse rather than print '?'."""

    def __init__(self, text: str, char: str, code_page: str) -> None:
        super().__init__(
            f"Символ «{char}» (U+{ord(char):04X}) не входить до кодової сторінки {code_page}: «{text}» / "
            f"character U+{ord(char):04X} is not in code page {code_page}")
        self.text, self.char, self.code_page = text, char, code_page


class Cut(StrEnum):
    FULL = "full"
    PARTIAL = "partial"


class Align(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


@dataclass(frozen=True, slots=True, eq=False)
class PrinterProfile:
    """What the kiosk must know about one printer model to print a ticket on it.

    ``code_page`` is a Python codec name and ``code_page_number`` its ``ESC t n``
    on this model; both ``None`` means "code pages unknown": text is drawn as an image.
    ``code_pages`` is the model's ESC t table as far as we know it (the simulator uses it).
    """

    name: str
    code_page: str | None
    code_page_number: int | None
    dots_per_line: int = 576  # 80 mm paper; 58 mm is 384
    chars_per_line: int = 48  # Font A (12 × 24); 32 on 58 mm
    cut: Cut = Cut.PARTIAL
    native_qr: bool = True  # GS ( k; without it the QR goes out as a raster image
    cancel_kanji: bool = False  # send FS . : some clones boot in a Chinese double-byte mode
    feed_before_cut: int = 4  # lines between the last printed line and the blade
    code_pages: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.code_page is None) != (self.code_page_number is None):
            raise EscPosError(f"profile {self.name}: code_page and code_page_number go together")
        if self.code_page is not None:
            assert self.code_page_number is not None
            if not 0 <= self.code_page_number <= 255:
                raise EscPosError(f"profile {self.name}: ESC t number must be 0…255")
            try:
                UKRAINIAN_LETTERS.encode(self.code_page)
            except (LookupError, UnicodeEncodeError):
                raise EscPosError(f"profile {self.name}: code page {self.code_page} lacks Ukrainian "
                                  "letters; use cp1251 or cp1125") from None
            # The simulator reads the table; the profile's own page is always in it.
            object.__setattr__(self, "code_pages",
                               {0: "cp437", **self.code_pages, self.code_page_number: self.code_page})
        if self.dots_per_line % 8 or not 128 <= self.dots_per_line <= 1024:
            raise EscPosError(f"profile {self.name}: dots_per_line must be a multiple of 8 in 128…1024")

    @property
    def raster_text(self) -> bool:
        return self.code_page is None


EPSON_80_CP1251 = PrinterProfile("epson-80-cp1251", "cp1251", 46, code_pages=EPSON_CODE_PAGES)
EPSON_80_CP1125 = PrinterProfile("epson-80-cp1125", "cp1125", 44, code_pages=EPSON_CODE_PAGES)
CLONE_58_CP1251 = PrinterProfile("clone-58-cp1251", "cp1251", 73, dots_per_line=384, chars_per_line=32,
                                 native_qr=False, cancel_kanji=True)
RASTER_58 = PrinterProfile("raster-58", None, None, dots_per_line=384, chars_per_line=32,
                           native_qr=False, cancel_kanji=True)
RASTER_80 = PrinterProfile("raster-80", None, None, native_qr=False)
PROFILES: Final[Mapping[str, PrinterProfile]] = {
    p.name: p for p in (EPSON_80_CP1251, EPSON_80_CP1125, CLONE_58_CP1251, RASTER_58, RASTER_80)}


# --- single commands -------------------------------------------------------------------

def initialize() -> bytes:
    """ESC @: clears the buffer and resets modes, including the code page."""
    return ESC + b"@"


def select_code_page(number: int) -> bytes:
    return ESC + b"t" + bytes([number])


def encode_text(text: str, code_page: str) -> bytes:
    """Encode ``text`` in ``code_page``; raises UnencodableText for a character it lacks."""
    out = bytearray()
    for char in text:
        if char in "\n\r\x1b\x1c\x1d\x10":
            raise EscPosError(f"control character U+{ord(char):04X} in ticket text «{text}»")
        try:
            out += char.encode(code_page)
        except UnicodeEncodeError:
            plain = PUNCTUATION_FALLBACK.get(char)
            if plain is None:
                raise UnencodableText(text, char, code_page) from None
            out += plain.encode(code_page)
    return bytes(out)


def align(where: Align) -> bytes:
    return ESC + b"a" + bytes([list(Align).index(where)])


def emphasis(on: bool) -> bytes:
    return ESC + b"E" + bytes([int(on)])


def char_size(width: int, height: int) -> bytes:
    """GS ! : character magnification, 1…8 in each direction."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise EscPosError("character size must be 1…8")
    return GS + b"!" + bytes([(width - 1) << 4 | (height - 1)])


def feed(lines: int) -> bytes:
    """ESC d n: print the buffer and feed ``lines`` lines."""
    return ESC + b"d" + bytes([max(0, min(lines, 255))])


def qr_code(data: str, module: int = 6, error: str = "M") -> bytes:
    """GS ( k, model 2: select model, module size, error level, store the data, print it."""
    payload = data.encode("utf-8")
    if not payload or len(payload) > 7089:
        raise EscPosError("QR data must be 1…7089 bytes")
    size = len(payload) + 3
    return b"".join([
        GS + b"(k\x04\x00\x31\x41\x32\x00",  # function 165: model 2
        GS + b"(k\x03\x00\x31\x43" + bytes([max(1, min(module, 16))]),  # 167: module size
        GS + b"(k\x03\x00\x31\x45" + bytes([48 + "LMQH".index(error)]),  # 169: error correction
        GS + b"(k" + bytes([size & 0xFF, size >> 8]) + b"\x31\x50\x30" + payload,  # 180: store
        GS + b"(k\x03\x00\x31\x51\x30",  # 181: print the stored symbol
    ])


RASTER_BAND_ROWS: Final = 128  # cheap clones choke on one huge GS v 0; bands print seamlessly


def raster_image(bitmap: np.ndarray) -> bytes:
    """GS v 0 for a 2-D bool array (True = black), sent in bands of RASTER_BAND_ROWS rows."""
    if bitmap.ndim != 2 or bitmap.shape[0] == 0 or bitmap.shape[1] == 0:
        raise EscPosError("a raster image is a non-empty 2-D array")
    packed = np.packbits(bitmap.astype(bool), axis=1)  # MSB first = leftmost dot, as ESC/POS wants
    width_bytes = packed.shape[1]
    out = bytearray()
    for top in range(0, packed.shape[0], RASTER_BAND_ROWS):
        band = packed[top:top + RASTER_BAND_ROWS]
        out += GS + b"v0\x00" + bytes([width_bytes & 0xFF, width_bytes >> 8,
                                        band.shape[0] & 0xFF, band.shape[0] >> 8])
        out += band.tobytes()
    return bytes(out)


def cut(kind: Cut) -> bytes:
    """GS V 0 / GS V 1 (function A): the form every clone understands."""
    return GS + b"V" + (b"\x00" if kind is Cut.FULL else b"\x01")


def qr_bitmap(data: str, width: int, module: int) -> np.ndarray:
    """A QR code (with its 4-module quiet zone) centred on a ``width``-dot-wide bitmap."""
    matrix = np.array(segno.make_qr(data, error="m").matrix, dtype=bool)
    matrix = np.pad(matrix, 4)
    module = max(1, min(module, width // matrix.shape[1]))
    scaled = np.kron(matrix, np.ones((module, module), dtype=bool))
    out = np.zeros((scaled.shape[0], width), dtype=bool)
    left = (width - scaled.shape[1]) // 2
    out[:, left:left + scaled.shape[1]] = scaled
    return out


# --- one receipt -----------------------------------------------------------------------

class ReceiptBuilder:
    """Accumulates one ticket's bytes with its code page pinned.

    ESC t n follows every ESC @ and every image, because printers fall back to
    their default page there; nothing else ever switches the page.
    """

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self._out = bytearray()
        self.initialize()

    def initialize(self) -> ReceiptBuilder:
        self._out += initialize()
        if self.profile.cancel_kanji:
            self._out += FS + b"."
        self._pin_code_page()
        return self

    def _pin_code_page(self) -> None:
        if self.profile.code_page_number is not None:
            self._out += select_code_page(self.profile.code_page_number)

    def line(self, text: str = "") -> ReceiptBuilder:
        if self.profile.code_page is None:
            raise EscPosError(f"profile {self.profile.name} prints text only as images")
        self._out += encode_text(text, self.profile.code_page) + LF
        return self

    def align(self, where: Align) -> ReceiptBuilder:
        self._out += align(where)
        return self

    def emphasis(self, on: bool) -> ReceiptBuilder:
        self._out += emphasis(on)
        return self

    def size(self, width: int, height: int) -> ReceiptBuilder:
        self._out += char_size(width, height)
        return self

    def feed(self, lines: int) -> ReceiptBuilder:
        self._out += feed(lines)
        return self

    def image(self, bitmap: np.ndarray) -> ReceiptBuilder:
        self._out += raster_image(bitmap)
        self._pin_code_page()
        return self

    def qr(self, data: str) -> ReceiptBuilder:
        module = max(3, min(8, self.profile.dots_per_line // 80))
        if self.profile.native_qr:
            self._out += qr_code(data, module) + LF
            return self
        return self.image(qr_bitmap(data, self.profile.dots_per_line, module))

    def cut(self) -> ReceiptBuilder:
        self._out += feed(self.profile.feed_before_cut) + cut(self.profile.cut)
        return self

    def to_bytes(self) -> bytes:
        return bytes(self._out)


# --- the ticket ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TicketSlip:
    """What goes on the paper ticket; the queue's ``Ticket`` is the source of it."""

    community: str  # «Ірпінська міська територіальна громада»
    centre: str  # the ЦНАП's name
    number: str  # the ticket label, «А042»
    service: str
    issued_at: datetime  # local wall time, as the visitor reads it
    people_ahead: int
    status_url: str  # the ticket's live status page on the queue server


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    align: Align = Align.CENTER
    bold: bool = False
    scale: int = 1  # 1 = normal text; the ticket number is larger


def ticket_lines(slip: TicketSlip) -> tuple[list[TextLine], list[TextLine]]:
    """The ticket's text, Ukrainian first: the lines above the QR code and those below it."""
    if slip.people_ahead == 0:
        ahead = [TextLine("Ви наступні"), TextLine("You are next")]
    else:
        n = slip.people_ahead
        ahead = [TextLine(f"Перед вами: {n} {PERSON.form(n)}"), TextLine(f"People ahead: {n}")]
    top = [TextLine(slip.community, bold=True), TextLine(slip.centre), TextLine(""),
           TextLine("Ваш номер / Your number"), TextLine(slip.number, bold=True, scale=3),
           TextLine(slip.service, bold=True), TextLine(""),
           TextLine(slip.issued_at.strftime("%d.%m.%Y %H:%M")), *ahead, TextLine("")]
    bottom = [TextLine("Стежте за чергою за QR-кодом"), TextLine("Scan to follow the queue")]
    return top, bottom


def wrap(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy word wrap; a word longer than a line is split where it must be."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            lines.append(current)
        while not fits(word) and len(word) > 1:
            cut_at = 1
            while cut_at < len(word) and fits(word[:cut_at + 1]):
                cut_at += 1
            lines.append(word[:cut_at])
            word = word[cut_at:]
        current = word
    return [*lines, current] if current or not lines else lines


def ticket_bytes(slip: TicketSlip, profile: PrinterProfile) -> bytes:
    """The whole ticket for ``profile``: text in its code page, or one raster image."""
    if profile.raster_text:
        return ReceiptBuilder(profile).image(ticket_bitmap(slip, profile)).cut().to_bytes()
    top, bottom = ticket_lines(slip)
    receipt = ReceiptBuilder(profile)
    for part, then_qr in ((top, True), (bottom, False)):
        for line in part:
            scale = min(line.scale, max(1, profile.chars_per_line // max(1, len(line.text))))
            receipt.align(line.align).emphasis(line.bold).size(scale, scale)
            width = profile.chars_per_line // scale
            for piece in wrap(line.text, lambda s: len(s) <= width):
                receipt.line(piece)
        receipt.size(1, 1).emphasis(False)
        if then_qr:
            receipt.align(Align.CENTER).qr(slip.status_url)
    return receipt.cut().to_bytes()


# --- raster text -----------------------------------------------------------------------

_font_lock = threading.Lock()  # SDL_ttf is not safe to use from two threads at once
_fonts: dict[tuple[int, bool], Any] = {}


def _pygame() -> Any:
    """pygame, imported on first use (text mode needs no SDL) in a headless environment."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame
    import pygame.surfarray

    if not pygame.font.get_init():
        pygame.font.init()
    return pygame


def render_line(text: str, px: int, bold: bool = False) -> np.ndarray:
    """One line of text in the bundled font as a bool bitmap (True = black), full line height."""
    with _font_lock:
        pygame = _pygame()
        if (px, bold) not in _fonts:
            _fonts[px, bold] = pygame.font.Font(str(FONT_BOLD if bold else FONT_REGULAR), px)
        surface = _fonts[px, bold].render(text or " ", True, (0, 0, 0), (255, 255, 255))
        gray = pygame.surfarray.array3d(surface).min(axis=2).T  # surfarray is (x, y)
    return gray < 128


def ticket_bitmap(slip: TicketSlip, profile: PrinterProfile) -> np.ndarray:
    """The whole ticket drawn as one 1-bit image ``profile.dots_per_line`` wide."""
    width = profile.dots_per_line
    base_px = max(20, width // 18)  # 32 dots on 80 mm paper, 21 on 58 mm: readable at arm's length
    margin = 8
    top, bottom = ticket_lines(slip)
    module = max(3, min(8, width // 80))

    def rows(part: list[TextLine]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for line in part:
            px, fits_width = base_px * line.scale, width - 2 * margin
            fits = lambda s, px=px, b=line.bold: render_line(s, px, b).shape[1] <= fits_width  # noqa: E731
            for piece in wrap(line.text, fits):
                glyphs = render_line(piece, px, line.bold)[:, :width - 2 * margin]
                row = np.zeros((glyphs.shape[0], width), dtype=bool)
                left = {Align.LEFT: margin, Align.RIGHT: width - margin - glyphs.shape[1]}.get(
                    line.align, (width - glyphs.shape[1]) // 2)
                row[:, left:left + glyphs.shape[1]] = glyphs
                out.append(row)
        return out

    return np.vstack([*rows(top), qr_bitmap(slip.status_url, width, module), *rows(bottom)])
