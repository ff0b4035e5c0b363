"""The kiosk's ticket printer: ESC/POS over pyserial, status before every job, bounded waits.

One small interface, as gpiozero names its device bases: :class:`TicketPrinter`.
:class:`EscPosPrinter` is the real one; ``kiosk.terminal.sim_printer.SimulatedTicketPrinter``
is the simulated one, the same driver writing to a pretend printer on a pty.
``kiosk.terminal.role`` chooses between them by configuration (``printer = "sim"``).

Any pyserial URL works: a device path, the pty of ``kiosk.terminal.sim_printer``,
``socket://host:port`` or ``loop://``. Every wait is bounded: a status query
waits ``status_timeout`` per byte, a write ``write_timeout``, so a stalled or
unplugged printer costs the kiosk a second or two, never a frozen screen.
Blocking I/O runs on one dedicated worker thread; the ``*_async`` methods are
what the asyncio kiosk service calls.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol, runtime_checkable

import serial

from kiosk.terminal.escpos import EscPosError, PrinterProfile, TicketSlip, ticket_bytes

log = logging.getLogger(__name__)

DLE_EOT: Final = b"\x10\x04"
STATUS_QUERIES: Final = (1, 2, 4)  # printer, offline cause, roll paper sensor


class PrinterState(StrEnum):
    """What the printer told us (or did not) in its last status answer."""

    OK = "ok"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    NO_ANSWER = "no_answer"  # unknown: never read as "paper fine"
    ERROR = "error"  # a reported error, a malformed answer or a port that fails

    @property
    def can_print(self) -> bool:
        return self in (PrinterState.OK, PrinterState.PAPER_NEAR_END)

    @property
    def needs_technician(self) -> bool:
        return self is not PrinterState.OK

    @property
    def uk(self) -> str:
        return _TEXTS[self][0]

    @property
    def en(self) -> str:
        return _TEXTS[self][1]


_TEXTS: Final = {
    PrinterState.OK: ("Принтер готовий", "Printer ready"),
    PrinterState.PAPER_NEAR_END: ("Папір закінчується", "Paper is running low"),
    PrinterState.PAPER_OUT: ("Закінчився папір", "Out of paper"),
    PrinterState.COVER_OPEN: ("Відкрита кришка принтера", "Printer cover is open"),
    PrinterState.OFFLINE: ("Принтер не готовий до друку", "Printer is offline"),
    PrinterState.NO_ANSWER: ("Принтер не відповідає", "Printer does not answer"),
    PrinterState.ERROR: ("Несправність принтера", "Printer error"),
}


def is_status_byte(value: int) -> bool:
    """A real-time status byte always has the pattern 0xx1xx10 (bits 0, 1, 4, 7 fixed)."""
    return value & 0b1001_0011 == 0b0001_0010


def decode_status(printer: int, offline_cause: int, paper: int) -> PrinterState:
    """The state from the answers to DLE EOT 1, 2 and 4; the worst finding wins."""
    if not all(is_status_byte(b) for b in (printer, offline_cause, paper)):
        return PrinterState.ERROR
    if offline_cause & 0x04:
        return PrinterState.COVER_OPEN
    if offline_cause & 0x20 or paper & 0x60:  # stopped for paper end / paper end sensor
        return PrinterState.PAPER_OUT
    if offline_cause & 0x40:
        return PrinterState.ERROR
    if printer & 0x08:
        return PrinterState.OFFLINE
    if paper & 0x0C:  # near-end sensor; some clones set only one of the two bits
        return PrinterState.PAPER_NEAR_END
    return PrinterState.OK


class PrintOutcome(StrEnum):
    PRINTED = "printed"  # written, and the printer answered after the job
    REFUSED = "refused"  # the status before the job forbade printing; nothing was sent
    TIMEOUT = "timeout"  # the printer stopped taking data; the rest of the job was dropped
    UNCONFIRMED = "unconfirmed"  # written, but the printer went silent or bad after it
    FAILED = "failed"  # the ticket could not be encoded, or the port could not be used


@dataclass(frozen=True, slots=True)
class PrintResult:
    """How one print job went. Anything but PRINTED: show the number large on screen."""

    outcome: PrintOutcome
    state: PrinterState  # the printer's last known state
    bytes_written: int
    seconds: float
    detail: str = ""

    @property
    def printed(self) -> bool:
        return self.outcome is PrintOutcome.PRINTED


@runtime_checkable
class TicketPrinter(Protocol):
    """The kiosk's ticket printer: asked before every job, never blocking the event loop.

    It never raises on a silent, unplugged or paperless printer: the answer
    says so (:class:`PrinterState`, :class:`PrintResult`), and
    :attr:`last_state` keeps the last status it read.
    """

    @property
    def last_state(self) -> PrinterState:
        """What the printer said in its last status answer (NO_ANSWER before the first)."""
        ...

    def start(self) -> None:
        """Get ready to print (in the running loop); the port itself may open on first use."""
        ...

    async def status_async(self) -> PrinterState:
        """Ask the printer for its state (DLE EOT)."""
        ...

    async def print_ticket_async(self, slip: TicketSlip) -> PrintResult:
        """Print one ticket, after asking whether the printer can."""
        ...

    def close(self) -> None:
        """Let go of the port and the worker."""
        ...


class EscPosPrinter:
    """The real :class:`TicketPrinter`: one ESC/POS ticket printer behind a pyserial URL.

    The port opens on first use and is reopened after any port error or timeout,
    so an unplugged and replugged USB printer comes back without a restart.
    """

    def __init__(self, url: str, profile: PrinterProfile, *, baudrate: int = 19200,
                 status_timeout: float = 0.5, write_timeout: float = 3.0) -> None:
        self.url, self.profile, self.baudrate = url, profile, baudrate
        self.status_timeout, self.write_timeout = status_timeout, write_timeout
        self.last_state = PrinterState.NO_ANSWER
        self._port: serial.SerialBase | None = None
        self._lock = threading.Lock()  # one job or query on the wire at a time
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ticket-printer")

    # --- blocking API (worker thread, tests, tools) ---

    def status(self) -> PrinterState:
        """Ask the printer with DLE EOT 1, 2, 4; NO_ANSWER if it stays silent."""
        with self._lock:
            return self._status()

    def print_ticket(self, slip: TicketSlip) -> PrintResult:
        """Encode, check the status, and print; refuses when the printer cannot print."""
        try:
            data = ticket_bytes(slip, self.profile)
        except EscPosError as err:  # encoded before touching the printer: nothing half-sent
            return PrintResult(PrintOutcome.FAILED, self.last_state, 0, 0.0, str(err))
        return self.print_bytes(data)

    def print_bytes(self, data: bytes) -> PrintResult:
        """Print one encoded job; blocks at most the status queries plus ``write_timeout``."""
        started = time.monotonic()

        def result(outcome: PrintOutcome, written: int = 0, detail: str = "") -> PrintResult:
            return PrintResult(outcome, self.last_state, written, time.monotonic() - started, detail)

        with self._lock:
            before = self._status()
            if not before.can_print:
                return result(PrintOutcome.REFUSED, detail=before.en)
            try:
                port = self._open()
                written = port.write(data) or 0
            except serial.SerialTimeoutException:
                self._drop_port()  # discards the unsent rest, so the next job starts clean
                log.warning("printer %s: write timed out after %.1f s", self.url, self.write_timeout)
                return result(PrintOutcome.TIMEOUT, detail="write timeout")
            except (serial.SerialException, OSError) as err:
                self._drop_port()
                self.last_state = PrinterState.ERROR
                return result(PrintOutcome.FAILED, detail=str(err))
            # A live printer answers DLE EOT as soon as it reads it, behind the job:
            # an answer means the job was taken; silence means it may be lost.
            after = self._status()
            if not after.can_print:
                return result(PrintOutcome.UNCONFIRMED, written, after.en)
            return result(PrintOutcome.PRINTED, written)

    def start(self) -> None:
        """Nothing to do before the first job: the port opens when it is first used."""

    def close(self) -> None:
        with self._lock:
            self._drop_port()
        self._worker.shutdown(wait=False, cancel_futures=True)

    # --- asyncio API ---

    async def status_async(self) -> PrinterState:
        return await asyncio.get_running_loop().run_in_executor(self._worker, self.status)

    async def print_ticket_async(self, slip: TicketSlip) -> PrintResult:
        """``print_ticket`` on the printer's own thread; the event loop never waits on the port."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, self.print_ticket, slip)

    # --- the wire ---

    def _open(self) -> serial.SerialBase:
        if self._port is None:
            self._port = serial.serial_for_url(
                self.url, baudrate=self.baudrate, timeout=self.status_timeout,
                write_timeout=self.write_timeout)
        return self._port

    def _drop_port(self) -> None:
        if self._port is not None:
            try:
                self._port.reset_output_buffer()
                self._port.close()
            except (serial.SerialException, OSError):
                pass
            self._port = None

    def _status(self) -> PrinterState:
        try:
            port = self._open()
            answers = []
            for n in STATUS_QUERIES:
                port.reset_input_buffer()  # a late answer to an earlier query must not count
                port.write(DLE_EOT + bytes([n]))
                reply = port.read(1)
                if not reply:
                    self.last_state = PrinterState.NO_ANSWER
                    return self.last_state
                answers.append(reply[0])
            self.last_state = decode_status(*answers)
        except serial.SerialTimeoutException:
            self._drop_port()
            self.last_state = PrinterState.NO_ANSWER
        except (serial.SerialException, OSError) as err:
            log.warning("printer %s: %s", self.url, err)
            self._drop_port()
            self.last_state = PrinterState.ERROR
        return self.last_state
