"""UPS status as NUT spells it, the events it raises, and communication health.

``ups.status`` is a set of tokens (OL, OB, LB, …). We compose it from Q1
status bits the way NUT's ``nutdrv_qx`` does, read it tolerantly from any
upsd, turn changes into events for the hub, and judge when a UPS is
critical the way ``upsmon`` does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from power.q1 import BatteryEstimate, Q1Info, Q1Rating, Q1Status


class StatusToken(enum.StrEnum):
    """The ``ups.status`` tokens we produce or act upon; others are tolerated."""

    OL = "OL"  # on line (mains)
    OB = "OB"  # on battery
    LB = "LB"  # low battery
    HB = "HB"  # high battery
    RB = "RB"  # replace battery
    CHRG = "CHRG"
    DISCHRG = "DISCHRG"
    BYPASS = "BYPASS"
    CAL = "CAL"  # battery test / calibration running
    OFF = "OFF"  # output off
    OVER = "OVER"  # overloaded
    TRIM = "TRIM"  # AVR lowering the voltage
    BOOST = "BOOST"  # AVR raising the voltage
    FSD = "FSD"  # forced shutdown; latches
    ALARM = "ALARM"  # details in ups.alarm
    WAIT = "WAIT"  # driver has not reported yet


# The order NUT drivers write the tokens in; readers must not depend on it.
_ORDER = ("OL", "OB", "DISCHRG", "CHRG", "LB", "HB", "OVER", "RB", "TRIM", "BOOST",
          "BYPASS", "OFF", "CAL", "FSD", "ALARM", "WAIT")

CHARGED_AT_PERCENT = 95.0  # below this, on line, an estimate counts as charging
OUTPUT_OFF_BELOW_V = 10.0  # a Q1 unit with its inverter off still answers, with ~0 V out
UPS_FAILED_ALARM = "UPS selftest failed!"  # the text nutdrv_qx puts in ups.alarm


def compose_status(q1: Q1Status, *, charge_percent: float | None = None,
                   replace_battery: bool = False, overload_above: int = 100) -> tuple[str, ...]:
    """``ups.status`` tokens from a Q1 reading.

    Bits map as in NUT ``nutdrv_qx``: b7 OB (else OL), b6 LB, b5 TRIM/BYPASS/BOOST
    by comparing output to input voltage, b4 ALARM, b2 CAL, b1 FSD. Q1 has no
    bits for the rest, so they are derived from readings: DISCHRG while on
    battery, CHRG on line below CHARGED_AT_PERCENT of the (estimated) charge,
    OVER above ``overload_above`` % load, OFF when the output carries no voltage.
    RB only comes from outside (a failed battery test).
    """
    f = q1.flags
    tokens = {"OB", "DISCHRG"} if f.utility_fail else {"OL"}
    if not f.utility_fail and charge_percent is not None and charge_percent < CHARGED_AT_PERCENT:
        tokens.add("CHRG")
    if f.battery_low:
        tokens.add("LB")
    if f.avr_active and q1.input_voltage and q1.output_voltage is not None:
        vi, vo = q1.input_voltage, q1.output_voltage
        # nutdrv_qx's bands; outside them the bit is not believed.
        if 0.5 * vi <= vo < 0.95 * vi:
            tokens.add("TRIM")
        elif 0.95 * vi <= vo < 1.05 * vi:
            tokens.add("BYPASS")
        elif 1.05 * vi <= vo < 1.5 * vi:
            tokens.add("BOOST")
    if f.ups_failed:
        tokens.add("ALARM")
    if f.test_in_progress:
        tokens.add("CAL")
    if f.shutdown_active:
        tokens.add("FSD")
    if q1.load_percent is not None and q1.load_percent > overload_above:
        tokens.add("OVER")
    if q1.output_voltage is not None and q1.output_voltage < OUTPUT_OFF_BELOW_V:
        tokens.add("OFF")
    if replace_battery:
        tokens.add("RB")
    return tuple(t for t in _ORDER if t in tokens)


def format_status(tokens) -> str:
    """Space-separated, known tokens in NUT's order, unknown ones after them."""
    known = [t for t in _ORDER if t in tokens]
    return " ".join(known + sorted(t for t in tokens if t not in _ORDER))


def parse_status(text: str) -> frozenset[str]:
    """Tokens of a ``ups.status`` value; unknown tokens are kept, never an error."""
    return frozenset(text.split())


def q1_variables(q1: Q1Status, estimate: BatteryEstimate | None = None,
                 rating: Q1Rating | None = None, info: Q1Info | None = None,
                 replace_battery: bool = False) -> dict[str, str]:
    """NUT variables for a Q1 unit, named as ``nutdrv_qx`` names them.

    Missing readings are left out rather than filled in. Estimated charge and
    runtime say so in ``battery.charge.estimated`` / ``battery.runtime.estimated``.
    """
    out: dict[str, str] = {}

    def put(name: str, value, fmt: str = "{}") -> None:
        if value is not None and value != "":
            out[name] = fmt.format(value)

    put("input.voltage", q1.input_voltage, "{:.1f}")
    put("input.voltage.fault", q1.input_fault_voltage, "{:.1f}")
    put("output.voltage", q1.output_voltage, "{:.1f}")
    put("ups.load", q1.load_percent)
    put("input.frequency", q1.frequency_hz, "{:.1f}")
    put("battery.voltage", q1.battery_voltage, "{:.2f}")
    put("ups.temperature", q1.temperature_c, "{:.1f}")
    charge = estimate.charge_percent if estimate else None
    out["ups.status"] = format_status(compose_status(q1, charge_percent=charge,
                                                     replace_battery=replace_battery))
    if q1.flags.ups_failed:
        out["ups.alarm"] = UPS_FAILED_ALARM
    out["ups.type"] = "offline / line interactive" if q1.flags.standby_type else "online"
    out["ups.beeper.status"] = "enabled" if q1.flags.beeper_on else "disabled"
    if estimate:
        put("battery.charge", estimate.charge_percent, "{:.0f}")
        put("battery.runtime", estimate.runtime_s, "{:.0f}")
        if estimate.estimated:
            out["battery.charge.estimated"] = "yes"
            if estimate.runtime_s is not None:
                out["battery.runtime.estimated"] = "yes"
    if rating:
        put("input.voltage.nominal", rating.voltage, "{:.1f}")
        put("input.current.nominal", rating.current, "{:.1f}")
        put("battery.voltage.nominal", rating.battery_voltage, "{:.1f}")
        put("input.frequency.nominal", rating.frequency_hz, "{:.0f}")
    if info:
        put("device.mfr", info.company)
        put("device.model", info.model)
        put("ups.firmware", info.version)
    return out


# --- events -----------------------------------------------------------------

class UpsEvent(enum.StrEnum):
    """What a UPS tells the hub about (upsmon's NOTIFY names)."""

    ONLINE = "ONLINE"
    ONBATT = "ONBATT"
    LOWBATT = "LOWBATT"
    FSD = "FSD"
    REPLBATT = "REPLBATT"
    COMMOK = "COMMOK"
    COMMBAD = "COMMBAD"
    NOCOMM = "NOCOMM"


def status_events(before: frozenset[str] | None, after: frozenset[str]) -> tuple[UpsEvent, ...]:
    """Events for a change of ``ups.status``.

    ``before`` is None for the first reading after start: then only conditions
    worth an alarm (on battery, low, forced shutdown) are reported, as upsmon does.
    """
    first = before is None
    before = before or frozenset()
    events: list[UpsEvent] = []
    if "OB" in after and "OB" not in before:
        events.append(UpsEvent.ONBATT)
    elif "OL" in after and "OB" not in after and not first and "OL" not in before:
        events.append(UpsEvent.ONLINE)
    for token, event in (("LB", UpsEvent.LOWBATT), ("FSD", UpsEvent.FSD),
                         ("RB", UpsEvent.REPLBATT)):
        if token in after and token not in before:
            events.append(event)
    return tuple(events)


@dataclass(frozen=True, slots=True)
class UpsState:
    """What the policy needs to know about one UPS now."""

    status: frozenset[str]
    charge_percent: float | None = None
    runtime_s: float | None = None
    comms_lost: bool = False  # status is the last one seen before communication failed

    @property
    def on_battery(self) -> bool:
        return "OB" in self.status


def is_critical(ups: UpsState, runtime_low_s: float | None = None) -> bool:
    """upsmon's rule, plus a runtime floor: time to shut down what the UPS feeds.

    Critical when FSD is set, when on battery and low (OB LB), when on battery
    with less than ``runtime_low_s`` left, or when communication is lost while
    the UPS was last seen on battery (upsmon's DEADTIME rule).
    """
    if "FSD" in ups.status:
        return True
    if not ups.on_battery:
        return False
    if "LB" in ups.status or ups.comms_lost:
        return True
    return runtime_low_s is not None and ups.runtime_s is not None and ups.runtime_s < runtime_low_s


# --- communication health ---------------------------------------------------

class CommsState(enum.StrEnum):
    UNKNOWN = "unknown"  # no reading yet since start
    OK = "ok"
    COMMBAD = "commbad"  # a few polls in a row failed
    NOCOMM = "nocomm"  # failing for a long time


@dataclass(frozen=True, slots=True)
class CommsConfig:
    """Thresholds in consecutive failed polls.

    At a 2 s poll the defaults give COMMBAD after ~6 s (upsmon: DEADTIME 15 s)
    and NOCOMM after ~5 min (upsmon: NOCOMMWARNTIME 300 s).
    """

    commbad_after: int = 3
    nocomm_after: int = 150

    def __post_init__(self) -> None:
        if not 1 <= self.commbad_after < self.nocomm_after:
            raise ValueError("need 1 <= commbad_after < nocomm_after")


@dataclass(frozen=True, slots=True)
class CommsHealth:
    """Counts good and failed polls; failures are garbled replies, timeouts, ERR lines."""

    state: CommsState = CommsState.UNKNOWN
    consecutive_failures: int = 0
    total_failures: int = 0
    total_good: int = 0
    last_fault: str | None = None

    @property
    def data_ok(self) -> bool:
        """Whether the last reading may still be served (upsd's DATA-STALE otherwise)."""
        return self.state is CommsState.OK

    def good(self) -> tuple[CommsHealth, tuple[UpsEvent, ...]]:
        """A poll answered correctly: back to OK, COMMOK if it had been bad."""
        recovered = self.state in (CommsState.COMMBAD, CommsState.NOCOMM)
        new = replace(self, state=CommsState.OK, consecutive_failures=0,
                      total_good=self.total_good + 1)
        return new, (UpsEvent.COMMOK,) if recovered else ()

    def bad(self, fault: str, cfg: CommsConfig = CommsConfig()) -> tuple[CommsHealth, tuple[UpsEvent, ...]]:
        """A poll failed with ``fault`` (e.g. a Q1Fault or an ERR code)."""
        n = self.consecutive_failures + 1
        state, events = self.state, ()
        if n >= cfg.nocomm_after and state is not CommsState.NOCOMM:
            state, events = CommsState.NOCOMM, (UpsEvent.NOCOMM,)
        elif n >= cfg.commbad_after and state in (CommsState.OK, CommsState.UNKNOWN):
            state, events = CommsState.COMMBAD, (UpsEvent.COMMBAD,)
        return replace(self, state=state, consecutive_failures=n,
                       total_failures=self.total_failures + 1, last_fault=fault), events
