"""Megatec "Q1" serial UPS protocol, byte for byte, and battery estimates.

Cheap line-interactive UPS units speak this at 2400 8N1; every command ends
in CR. The replies have fixed offsets, so parsing is strict: a reply that is
not exactly right raises :class:`Q1Error` and never yields a guessed value.
Charge and runtime are not reported by Q1 at all; :func:`estimate_battery`
derives them from battery voltage and load and labels them as estimates.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

CR = b"\r"


class Q1Fault(enum.StrEnum):
    """Why a reply was refused (a closed set, so the caller can count them)."""

    NOT_ASCII = "not-ascii"
    EMPTY = "empty"
    ECHO = "echo"  # the UPS echoes a command it does not support
    NO_START = "no-start"  # missing '(' or '#'
    NO_CR = "no-cr"
    LENGTH = "length"
    SEPARATOR = "separator"
    FIELD_MISSING = "field-missing"  # field filled with '@'
    FIELD_INVALID = "field-invalid"


class Q1Error(ValueError):
    """A reply or command that does not follow the protocol."""

    def __init__(self, fault: Q1Fault, detail: str = "", field: str | None = None):
        self.fault = fault
        self.field = field
        super().__init__(f"{fault}: {detail}" if detail else str(fault))


@dataclass(frozen=True, slots=True)
class Q1Flags:
    """The eight status bits b7..b0 of a Q1 reply."""

    utility_fail: bool = False  # b7: on battery
    battery_low: bool = False  # b6
    avr_active: bool = False  # b5: bypass, boost or buck
    ups_failed: bool = False  # b4
    standby_type: bool = True  # b3: 1 standby/line-interactive, 0 online
    test_in_progress: bool = False  # b2
    shutdown_active: bool = False  # b1
    beeper_on: bool = False  # b0

    def to_bits(self) -> str:
        return "".join("1" if getattr(self, f) else "0" for f in self.__slots__)

    @classmethod
    def from_bits(cls, bits: str) -> Q1Flags:
        if len(bits) != 8 or set(bits) - {"0", "1"}:
            raise Q1Error(Q1Fault.FIELD_INVALID, f"status bits {bits!r}", "status")
        return cls(*(b == "1" for b in bits))


@dataclass(frozen=True, slots=True)
class Q1Status:
    """A parsed reply to ``Q1``. A field is None only if the caller allowed '@' there."""

    input_voltage: float | None
    input_fault_voltage: float | None
    output_voltage: float | None
    load_percent: int | None
    frequency_hz: float | None
    battery_voltage: float | None  # whole battery (SS.S) or per cell (S.SS)
    temperature_c: float | None
    flags: Q1Flags


@dataclass(frozen=True, slots=True)
class Q1Rating:
    """A parsed reply to ``F``: the nameplate ratings."""

    voltage: float
    current: int
    battery_voltage: float
    frequency_hz: float


@dataclass(frozen=True, slots=True)
class Q1Info:
    """A parsed reply to ``I``: vendor, model, firmware (trimmed of padding)."""

    company: str
    model: str
    version: str


# (name, start offset, width, allowed decimals, signed). Offsets are those of
# the Megatec spec; the decimals fix the shape, e.g. battery "27.5" or "2.27".
_Q1_FIELDS = (
    ("input_voltage", 1, 5, (1,), False),
    ("input_fault_voltage", 7, 5, (1,), False),
    ("output_voltage", 13, 5, (1,), False),
    ("load_percent", 19, 3, (0,), False),
    ("frequency_hz", 23, 4, (1,), False),
    ("battery_voltage", 28, 4, (1, 2), False),
    ("temperature_c", 33, 4, (1,), True),
)
_Q1_LEN = 47
_F_FIELDS = (("voltage", 1, 5, (1,), False), ("current", 7, 3, (0,), False),
             ("battery_voltage", 11, 5, (1, 2), False), ("frequency_hz", 17, 4, (1,), False))
_F_LEN = 22
_I_WIDTHS = (("company", 1, 15), ("model", 17, 10), ("version", 28, 10))
_I_LEN = 39


def _shape(width: int, decimals: tuple[int, ...], signed: bool) -> re.Pattern[str]:
    alternatives = []
    for d in decimals:
        whole = width - d - 1 if d else width
        frac = rf"\.\d{{{d}}}" if d else ""
        alternatives.append(rf"\d{{{whole}}}{frac}")
        if signed and whole > 1:
            alternatives.append(rf"-\d{{{whole - 1}}}{frac}")
    return re.compile("|".join(alternatives))


_SHAPES = {(w, d, s): _shape(w, d, s) for _, _, w, d, s in _Q1_FIELDS + _F_FIELDS}


def _frame(data: bytes, command: str, start: str, length: int) -> str:
    """Check the envelope shared by all replies and return it as text."""
    if not data:
        raise Q1Error(Q1Fault.EMPTY)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise Q1Error(Q1Fault.NOT_ASCII) from None
    if text.rstrip("\r").upper() == command:
        raise Q1Error(Q1Fault.ECHO, f"UPS echoed {command!r}: command not supported")
    if text[0] != start:
        raise Q1Error(Q1Fault.NO_START, f"expected {start!r}, got {text[0]!r}")
    if not text.endswith("\r"):
        raise Q1Error(Q1Fault.NO_CR)
    if len(text) != length:
        raise Q1Error(Q1Fault.LENGTH, f"{len(text)} bytes, expected {length}")
    if not text[:-1].isprintable():
        raise Q1Error(Q1Fault.FIELD_INVALID, "control character inside the reply")
    return text


def _number(text: str, name: str, width: int, decimals: tuple[int, ...], signed: bool,
            allow_missing: frozenset[str]) -> float | int | None:
    if "@" in text:
        if name in allow_missing and set(text) <= {"@", "."}:
            return None
        raise Q1Error(Q1Fault.FIELD_MISSING, f"{name}={text!r}", name)
    if not _SHAPES[width, decimals, signed].fullmatch(text):
        raise Q1Error(Q1Fault.FIELD_INVALID, f"{name}={text!r}", name)
    return int(text) if decimals == (0,) else float(text)


def _separators(text: str, positions) -> None:
    for pos in positions:
        if text[pos] != " ":
            raise Q1Error(Q1Fault.SEPARATOR, f"no space at offset {pos}")


def parse_q1(data: bytes, *, allow_missing: frozenset[str] = frozenset()) -> Q1Status:
    """Parse a reply to ``Q1``.

    ``allow_missing`` names fields that this unit never fills (some fill the
    temperature with ``@@.@``); those become None instead of an error.
    """
    text = _frame(data, "Q1", "(", _Q1_LEN)
    _separators(text, (6, 12, 18, 22, 27, 32, 37))
    values = {name: _number(text[s:s + w], name, w, d, sg, allow_missing)
              for name, s, w, d, sg in _Q1_FIELDS}
    return Q1Status(**values, flags=Q1Flags.from_bits(text[38:46]))


def parse_rating(data: bytes) -> Q1Rating:
    """Parse a reply to ``F``."""
    text = _frame(data, "F", "#", _F_LEN)
    _separators(text, (6, 10, 16))
    return Q1Rating(**{n: _number(text[s:s + w], n, w, d, sg, frozenset())
                       for n, s, w, d, sg in _F_FIELDS})


def parse_info(data: bytes) -> Q1Info:
    """Parse a reply to ``I``."""
    text = _frame(data, "I", "#", _I_LEN)
    _separators(text, (16, 27))
    return Q1Info(**{n: text[s:s + w].strip() for n, s, w in _I_WIDTHS})


# --- replies from a state (for the simulator) ------------------------------

def _fmt(value: float | int | None, width: int, decimals: tuple[int, ...], signed: bool) -> str:
    """The field as the unit would send it, exactly ``width`` characters.

    Among the allowed shapes, takes one that represents the value exactly, so
    that ``parse(format(x)) == x``; otherwise rounds to the first shape.
    """
    if value is None:
        d = decimals[0]
        return "@" * width if not d else "@" * (width - d - 1) + "." + "@" * d
    if value < 0 and not signed:
        raise ValueError(f"{value} cannot be negative here")
    texts = [f"{value:0{width}.{d}f}" for d in decimals]
    fitting = [t for t in texts if len(t) == width]
    if not fitting:
        raise ValueError(f"{value} does not fit in {width} characters")
    exact = [t for t in fitting if float(t) == value]
    return (exact or fitting)[0]


def format_q1(status: Q1Status) -> bytes:
    """The 47-byte reply a unit in ``status`` sends to ``Q1``."""
    parts = [_fmt(getattr(status, n), w, d, sg) for n, _, w, d, sg in _Q1_FIELDS]
    return ("(" + " ".join(parts) + " " + status.flags.to_bits() + "\r").encode("ascii")


def format_rating(rating: Q1Rating) -> bytes:
    parts = [_fmt(getattr(rating, n), w, d, sg) for n, _, w, d, sg in _F_FIELDS]
    return ("#" + " ".join(parts) + "\r").encode("ascii")


def format_info(info: Q1Info) -> bytes:
    parts = []
    for name, _, width in _I_WIDTHS:
        value = getattr(info, name)
        if len(value) > width or value != value.strip() or not value.isascii() \
                or not value.isprintable():
            raise ValueError(f"{name}={value!r} must be trimmed printable ASCII "
                             f"of at most {width} characters")
        parts.append(value.ljust(width))
    return ("#" + " ".join(parts) + "\r").encode("ascii")


# --- commands ---------------------------------------------------------------

class Q1Command(enum.StrEnum):
    """Commands without parameters; the value is the text before CR."""

    STATUS = "Q1"
    RATING = "F"
    INFO = "I"
    TEST_10S = "T"
    TEST_UNTIL_LOW = "TL"
    CANCEL_TEST = "CT"
    CANCEL_SHUTDOWN = "C"
    TOGGLE_BEEPER = "Q"


def encode(command: Q1Command) -> bytes:
    return command.value.encode("ascii") + CR


def encode_test_minutes(minutes: int) -> bytes:
    """``Tnn``: battery test for 1..99 minutes."""
    if not 1 <= minutes <= 99:
        raise ValueError("battery test length must be 1..99 minutes")
    return f"T{minutes:02d}".encode("ascii") + CR


def _delay_code(delay_s: int) -> str:
    # The unit counts in tenths of a minute below one minute (.2 .. .9) and in
    # whole minutes above (01 .. 10); anything else would be silently rounded.
    if delay_s < 60 and delay_s % 6 == 0 and 2 <= delay_s // 6 <= 9:
        return f".{delay_s // 6}"
    if delay_s % 60 == 0 and 1 <= delay_s // 60 <= 10:
        return f"{delay_s // 60:02d}"
    raise ValueError(f"shutdown delay {delay_s} s is not one of 12, 18 … 54, 60, 120 … 600 s")


def encode_shutdown(delay_s: int, restore_after_min: int | None = None) -> bytes:
    """``Sn`` (restore when mains returns) or ``SnRmmmm`` (restore after m minutes).

    ``restore_after_min=0`` sends ``R0000``, which NUT uses for "stay off".
    """
    text = "S" + _delay_code(delay_s)
    if restore_after_min is not None:
        if not 0 <= restore_after_min <= 9999:
            raise ValueError("restore delay must be 0..9999 minutes")
        text += f"R{restore_after_min:04d}"
    return text.encode("ascii") + CR


@dataclass(frozen=True, slots=True)
class Q1Request:
    """A decoded command, as a simulated UPS sees it."""

    command: str  # "Q1", "F", "I", "T", "TL", "Tn", "S", "CT", "C", "Q"
    minutes: int | None = None  # for Tnn
    delay_s: int | None = None  # for Sn
    restore_after_min: int | None = None  # for SnRm


_S_RE = re.compile(r"S(\.[2-9]|0[1-9]|10)(?:R(\d{4}))?")


def decode_command(data: bytes) -> Q1Request:
    """Decode one command line (with its CR); unknown commands raise Q1Error."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise Q1Error(Q1Fault.NOT_ASCII) from None
    if not text.endswith("\r"):
        raise Q1Error(Q1Fault.NO_CR)
    text = text[:-1]
    if text in {c.value for c in Q1Command}:
        return Q1Request(text)
    if re.fullmatch(r"T\d\d", text) and text != "T00":
        return Q1Request("Tn", minutes=int(text[1:]))
    if m := _S_RE.fullmatch(text):
        n = m.group(1)
        delay = int(n[1]) * 6 if n.startswith(".") else int(n) * 60
        restore = int(m.group(2)) if m.group(2) else None
        return Q1Request("S", delay_s=delay, restore_after_min=restore)
    raise Q1Error(Q1Fault.FIELD_INVALID, f"unknown command {text!r}")


# --- battery estimate ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BatteryCalibration:
    """What the installer tells us about the battery behind a Q1 unit.

    Runtime follows NUT's ``runtimecal`` model (a Peukert-like power law):
    ``runtime = runtime_full_load_s * charge * (1 / load) ** exponent``,
    with the load never taken below ``idle_load_percent``.
    """

    cells: int  # lead-acid cells in series: 6 per 12 V block
    cell_full_v: float = 2.25  # resting voltage of a full cell on float charge
    cell_empty_v: float = 1.75  # cut-off under load (10.5 V per 12 V block)
    runtime_full_load_s: float | None = None
    exponent: float = 1.0
    idle_load_percent: float = 10.0
    sag_per_cell_full_load_v: float = 0.0  # voltage drop at 100 % load, on battery
    per_cell_reading: bool | None = None  # None: decide from the magnitude

    def __post_init__(self) -> None:
        if self.cells < 1 or not 0 < self.cell_empty_v < self.cell_full_v:
            raise ValueError("need cells >= 1 and 0 < empty < full cell voltage")
        if self.runtime_full_load_s is not None and self.runtime_full_load_s <= 0:
            raise ValueError("runtime at full load must be positive")
        if not 0 < self.idle_load_percent <= 100 or self.exponent <= 0:
            raise ValueError("idle load must be in (0, 100] and exponent positive")

    @classmethod
    def from_runtimecal(cls, cells: int, runtime_high_s: float, load_high: float,
                        runtime_low_s: float, load_low: float, **kw) -> BatteryCalibration:
        """From two measured points, as NUT's ``runtimecal = rh,lh,rl,ll``."""
        if runtime_low_s < runtime_high_s or runtime_high_s <= 0:
            raise ValueError("runtime at the lower load must be the longer one")
        if load_high > 100 or not 0 < load_low < load_high:
            raise ValueError("loads must satisfy 0 < low < high <= 100")
        exponent = math.log(runtime_low_s / runtime_high_s) / math.log(load_high / load_low)
        full = runtime_high_s * (load_high / 100) ** exponent
        return cls(cells, runtime_full_load_s=full, exponent=exponent, **kw)


@dataclass(frozen=True, slots=True)
class BatteryEstimate:
    """Charge and runtime derived from voltage and load: always an estimate."""

    charge_percent: float
    runtime_s: float | None
    estimated: bool = True


def estimate_battery(cal: BatteryCalibration, battery_voltage: float,
                     load_percent: float, on_battery: bool) -> BatteryEstimate | None:
    """Estimate charge and runtime; None when the voltage cannot belong to this battery.

    Q1 units report either the whole battery (SS.S) or one cell (S.SS); no
    lead-acid battery of two or more cells reads under 3 V, so the magnitude
    tells them apart unless the calibration says which it is.
    """
    per_cell = cal.per_cell_reading
    if per_cell is None:
        per_cell = battery_voltage < 3.0
    cell_v = battery_voltage if per_cell else battery_voltage / cal.cells
    # Far outside any lead-acid cell: wrong cell count or a garbled reading.
    if not 1.0 <= cell_v <= 3.0:
        return None
    load = min(max(load_percent, 0.0), 200.0)
    if on_battery:
        # Under load the terminal voltage sags; add it back before judging charge.
        cell_v += cal.sag_per_cell_full_load_v * load / 100
    fraction = (cell_v - cal.cell_empty_v) / (cal.cell_full_v - cal.cell_empty_v)
    fraction = min(max(fraction, 0.0), 1.0)
    runtime = None
    if cal.runtime_full_load_s is not None:
        effective = max(load, cal.idle_load_percent) / 100
        runtime = cal.runtime_full_load_s * fraction / effective ** cal.exponent
    return BatteryEstimate(round(fraction * 100, 1), None if runtime is None else round(runtime))
