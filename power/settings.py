"""`[roles.power]` and its tables, validated into the policy's and the drivers' own types.

The role's file has one table per thing on the wall: the UPS, the mains
sensor, the generator, the policy's timings and the shutdown plan. Each is a
settings class in the pattern of ``edge.config`` (every key documented, a
wrong value refused with the file, the key and the reason);
:func:`parse_power_config` turns them into :class:`power.policy.PolicyConfig`,
:class:`power.q1driver.Q1DriverConfig` and friends, so that nothing past this
module reads raw TOML.

Optional numbers use -1 for "none" (TOML has no null), as ``[roles.console]``
does for a missing presence sensor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from edge.config import (ConfigError, build_section, ip_address, not_negative, one_of, option, port_number, positive,
                         required, time_of_day_or_empty)
from power.policy import (Exercise, PolicyConfig, QuietHours, ServiceInterval, ShutdownPlan, ShutdownStep,
                          Wiring)
from power.q1 import BatteryCalibration
from power.status import CommsConfig

SIM = "sim"  # q1 url of the UPS simulated in-process (mock pins only)
PREFIX = "roles.power"


def _pin(value: int) -> str | None:
    return None if value == -1 or 0 <= value <= 27 else "must be a BCM GPIO number from 0 to 27, or -1 for none"


def _none_or_positive(value: float) -> str | None:
    return None if value == -1 or value > 0 else "must be greater than 0, or -1 for none"


def _percent_or_none(value: float) -> str | None:
    return None if value == -1 or 0 <= value <= 100 else "must be a percentage from 0 to 100, or -1 for none"


def _day(value: str) -> str | None:
    if value == "":
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        return f"must be a date YYYY-MM-DD (got {value!r}), or empty"
    return None


def _ratio(value: float) -> str | None:
    return None if 0 <= value <= 1 else "must be a fraction from 0 to 1"


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerSettings:
    """`[roles.power]`: UPS, mains and generator watch and control, orderly shutdown."""

    tick_s: float = option(1.0, "How often the generator policy runs without any input change, seconds "
                                "(it also runs on every change of an input).", positive)
    nut_server: bool = option(True, "Serve this node's UPS data over the NUT network protocol, read-only "
                                    "(for `upsc`, Home Assistant, `upsmon` secondaries).")
    nut_listen: str = option("127.0.0.1", "Address of the NUT server. Set the LAN address for other machines.",
                             ip_address)
    nut_port: int = option(3493, "TCP port of the NUT server (0 picks a free port).", port_number)
    shutdown_command: str = option("", "Command this node runs when the plan (or the hub) tells it to shut down, "
                                       "e.g. `systemctl poweroff`. Empty: the request is only recorded and logged.")
    history_step_s: float = option(60.0, "Readings are averaged over this many seconds for the 24 h graph (and "
                                         "over ten times as long for the 7 d graph); one telemetry message to the "
                                         "hub per step.", positive)
    counters_every_s: float = option(60.0, "While the generator runs, its run-hours are written to disk at least "
                                           "this often, seconds (and at every start and stop).", positive)
    scenario: str = option("", "`demo`: a blackout, the grid's return and a low-battery warning play by themselves "
                               "on the simulated UPS and generator (needs `gpio.pin_factory = \"mock\"`).",
                           one_of("", "demo"))


@dataclass(frozen=True, slots=True, kw_only=True)
class UpsSection:
    """`[roles.power.ups]`: the UPS this node watches (leave the table out for none)."""

    driver: str = required("`q1` (a Megatec Q1 unit on a serial line) or `nut` (any `upsd`).", one_of("q1", "nut"))
    name: str = option("ups", "Name of the UPS on this node's NUT server and in alerts.")
    description: str = option("", "Free text shown by `upsc -L` and on the dashboard.")
    url: str = option("", "q1: pyserial URL (`/dev/ttyUSB0`, a pty, `socket://…`), or `sim` for the simulated "
                          "UPS (mock pins only).")
    host: str = option("127.0.0.1", "nut: host of the `upsd` to read.")
    port: int = option(3493, "nut: its TCP port.", port_number)
    ups: str = option("", "nut: the UPS name on that `upsd`.")
    username: str = option("", "nut: user for instant commands (power-cycling the UPS at the end of a shutdown).")
    password: str = option("", "nut: that user's password.")
    poll_interval_s: float = option(2.0, "Seconds between polls of the UPS.", positive)
    stale_after_s: float = option(15.0, "A reading older than this is stale: not served, not acted on "
                                        "(upsd's MAXAGE).", positive)
    commbad_after: int = option(3, "Failed polls in a row before COMMBAD is reported.", positive)
    nocomm_after: int = option(150, "Failed polls in a row before NOCOMM is reported (more than commbad_after).",
                               positive)
    battery_cells: int = option(0, "q1: lead-acid cells in series (6 per 12 V block) for the charge and runtime "
                                   "estimate; 0: no estimate.", not_negative)
    cell_full_v: float = option(2.25, "q1: resting voltage of a full cell.", positive)
    cell_empty_v: float = option(1.75, "q1: cell voltage at cut-off under load.", positive)
    runtime_full_load_s: float = option(-1.0, "q1: runtime at 100 % load from full, seconds (from a test); "
                                              "-1: no runtime estimate.", _none_or_positive)
    runtime_exponent: float = option(1.0, "q1: Peukert-like exponent of runtime against load.", positive)
    sag_per_cell_full_load_v: float = option(0.0, "q1: cell voltage drop at 100 % load on battery.", not_negative)
    allow_missing: tuple[str, ...] = option((), "q1: reply fields this unit fills with `@` (e.g. "
                                                "`[\"temperature_c\"]`); others with `@` are faults.")


@dataclass(frozen=True, slots=True, kw_only=True)
class MainsSection:
    """`[roles.power.mains]`: the mains-present input (leave out: mains is judged from the UPS)."""

    pin: int = required("BCM pin of the optocoupler or the ATS dry contact.", _pin)
    active_high: bool = option(True, "The input is high while mains is present (false: low while present).")
    pull_up: bool = option(False, "Use the internal pull-up (a dry contact to ground) instead of the pull-down.")
    hold_s: float = option(0.3, "Mains counts as gone only after the input has been inactive this long; this "
                                "also bridges the gaps of an unfiltered 50 Hz signal, seconds.", positive)


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratorSection:
    """`[roles.power.generator]`: the generator's wiring or controller (leave out: no generator)."""

    control: str = required("`two-wire` (run relay), `three-wire` (start and stop pulses) or `deepsea` "
                            "(a Deep Sea controller over Modbus TCP).", one_of("two-wire", "three-wire", "deepsea"))
    run_pin: int = option(-1, "two-wire: BCM pin of the RUN relay.", _pin)
    start_pin: int = option(-1, "three-wire: BCM pin of the START relay.", _pin)
    stop_pin: int = option(-1, "three-wire: BCM pin of the STOP relay.", _pin)
    relay_active_high: bool = option(True, "Relay boards that close on a high output (false: on low).")
    pulse_s: float = option(2.0, "three-wire: length of the START and STOP pulses, seconds.", positive)
    running_pin: int = option(-1, "BCM pin of the running feedback (dry contact or AC sense); required unless "
                                  "`deepsea`.", _pin)
    running_active_high: bool = option(True, "The running input is high while the engine runs.")
    running_pull_up: bool = option(False, "Internal pull-up on the running input (a dry contact to ground).")
    running_hold_s: float = option(0.5, "The set counts as stopped only after the running input has been "
                                        "inactive this long, seconds.", positive)
    output_pin: int = option(-1, "BCM pin sensing AC at the generator's output (for the \"no output\" alarm); "
                                 "-1: none.", _pin)
    load_pin: int = option(-1, "BCM pin of the transfer contactor relay, closed to put the load on the "
                               "generator after warm-up; -1: none (an ATS does it).", _pin)
    fuel_channel: int = option(-1, "MCP3008 channel (0–7, SPI0 CE0) of the fuel level sender; -1: none.",
                               lambda v: None if -1 <= v <= 7 else "must be 0–7, or -1 for none")
    fuel_empty: float = option(0.1, "ADC reading (0–1) at an empty tank.", _ratio)
    fuel_full: float = option(0.9, "ADC reading (0–1) at a full tank.", _ratio)
    modbus_host: str = option("", "deepsea: host of the controller (Modbus TCP, or a serial gateway).")
    modbus_port: int = option(502, "deepsea: its TCP port.", port_number)
    modbus_unit: int = option(10, "deepsea: Modbus unit id (DSE: 10, some: 1).",
                              lambda v: None if 0 <= v <= 247 else "must be 0–247")
    modbus_timeout_s: float = option(1.0, "deepsea: timeout of one Modbus request, seconds.", positive)
    modbus_poll_s: float = option(1.0, "deepsea: seconds between reads of the controller.", positive)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySection:
    """`[roles.power.policy]`: when the generator starts and stops, and its service interval."""

    mains_confirm_s: float = option(10.0, "Mains must be gone this long before the generator starts.", not_negative)
    mains_stable_s: float = option(300.0, "Mains must be back this long before the generator stops.", not_negative)
    start_timeout_s: float = option(15.0, "A start attempt fails without running feedback after this long.", positive)
    start_attempts: int = option(3, "Start attempts before the GEN_FAIL alarm.", positive)
    retry_pause_s: float = option(30.0, "Pause between start attempts, seconds.", not_negative)
    warmup_s: float = option(60.0, "Running without load before the load is connected, seconds.", not_negative)
    cooldown_s: float = option(120.0, "Running without load before the stop, seconds.", not_negative)
    min_run_s: float = option(600.0, "Shortest run, seconds (a person's stop overrides it).", not_negative)
    stop_timeout_s: float = option(30.0, "A stop that leaves the running input active this long raises "
                                         "GEN_STOP_FAIL, seconds.", positive)
    output_timeout_s: float = option(30.0, "Running without output voltage this long raises GEN_NO_OUTPUT.",
                                     positive)
    max_run_s: float = option(43200.0, "A run longer than this raises GEN_MAX_RUNTIME, seconds.", positive)
    start_charge_below: float = option(-1.0, "Also start when the UPS is on battery below this charge, %; "
                                             "-1: only on low battery.", _percent_or_none)
    stop_charge_above: float = option(90.0, "A start for low charge runs until the UPS is charged above this, %.",
                                      _percent_or_none)
    quiet_start: str = option("", "Quiet hours begin (HH:MM local time): no starts for mains loss or exercise. "
                                  "Empty: none.", time_of_day_or_empty)
    quiet_end: str = option("", "Quiet hours end (HH:MM).", time_of_day_or_empty)
    quiet_start_charge_below: float = option(-1.0, "During quiet hours, start only below this UPS charge, % "
                                                   "(or on low battery).", _percent_or_none)
    exercise_days: int = option(0, "Exercise run every this many days; 0: never.", not_negative)
    exercise_at: str = option("10:00", "Time of day of the exercise run (HH:MM).", time_of_day_or_empty)
    exercise_duration_s: float = option(7200.0, "Length of an exercise run, seconds.", positive)
    exercise_skip_if_ran_s: float = option(7200.0, "Skip the exercise if the set ran this long since the last one.",
                                           not_negative)
    service_hours: float = option(100.0, "Service due after this many run-hours since the last service.", positive)
    service_months: int = option(6, "… or this many months, whichever comes first.", positive)
    commissioned_on: str = option("", "Date the set was commissioned or last serviced before this node knew it "
                                      "(YYYY-MM-DD). Empty: the day the role first ran.", _day)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShutdownSection:
    """`[roles.power.shutdown]`: what is shut down when the UPS is critical, and when."""

    runtime_low_s: float = option(-1.0, "Also critical on battery below this estimated runtime, seconds; "
                                        "-1: only on low battery (OB LB), FSD or lost communication.",
                                  _none_or_positive)
    self_after_s: float = option(30.0, "This node shuts down last, this long after the last step, seconds.",
                                 not_negative)
    power_cycle_ups: bool = option(True, "Ask the UPS to cut its output and restore it when mains returns "
                                         "(`shutdown.return`) as this node goes down.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ShutdownStepSection:
    """`[[roles.power.shutdown.steps]]`: one node to shut down, in order."""

    target: str = required("Name of the node (as enrolled at the hub, same site) to shut down.",
                           lambda v: None if v else "must not be empty")
    after_s: float = option(0.0, "Wait after the previous step (the first: after the UPS went critical), seconds.",
                            not_negative)


@dataclass(frozen=True, slots=True)
class PowerConfig:
    """The validated `[roles.power]` with everything built from it."""

    settings: PowerSettings
    ups: UpsSection | None
    mains: MainsSection | None
    generator: GeneratorSection | None
    policy: PolicyConfig
    commissioned_on: date | None
    calibration: BatteryCalibration | None
    comms: CommsConfig


_TABLES = {"ups": UpsSection, "mains": MainsSection, "generator": GeneratorSection, "policy": PolicySection,
           "shutdown": ShutdownSection}


def parse_power_config(table: dict[str, Any], path: str, pin_factory_name: str = "mock") -> PowerConfig:
    """Validate `[roles.power]`; raises ConfigError naming the file, the key and the reason."""
    own = {f.name for f in dataclasses.fields(PowerSettings)}
    for key in table:
        if key not in own and key not in _TABLES:
            raise ConfigError(path, f"{PREFIX}.{key}", f"unknown key; known keys: {', '.join(sorted(own | set(_TABLES)))}")
    settings = build_section(PowerSettings, {k: v for k, v in table.items() if k in own}, path, PREFIX)
    ups = _table(UpsSection, table, "ups", path)
    mains = _table(MainsSection, table, "mains", path)
    gen = _table(GeneratorSection, table, "generator", path)
    pol = _table(PolicySection, table, "policy", path) or PolicySection()
    raw_shutdown = dict(table.get("shutdown", {})) if isinstance(table.get("shutdown", {}), dict) else None
    if raw_shutdown is None:
        raise ConfigError(path, f"{PREFIX}.shutdown", "must be a table")
    raw_steps = raw_shutdown.pop("steps", [])
    sd = build_section(ShutdownSection, raw_shutdown, path, f"{PREFIX}.shutdown")
    mock = pin_factory_name == "mock"
    if ups is not None:
        _check_ups(ups, path, mock)
    if gen is not None:
        _check_generator(gen, path)
    if settings.scenario and not mock:
        raise ConfigError(path, f"{PREFIX}.scenario", "the demo scenario needs gpio.pin_factory = \"mock\"")
    if mains is None and ups is None:
        raise ConfigError(path, f"{PREFIX}.mains", "is required when there is no [roles.power.ups] to judge "
                                                   "mains by")
    if pol.quiet_start and not pol.quiet_end or pol.quiet_end and not pol.quiet_start:
        raise ConfigError(path, f"{PREFIX}.policy.quiet_end", "give both quiet_start and quiet_end, or neither")
    steps = _steps(raw_steps, path)
    comms = CommsConfig()
    if ups is not None:
        if ups.nocomm_after <= ups.commbad_after:
            raise ConfigError(path, f"{PREFIX}.ups.nocomm_after", "must be greater than commbad_after")
        comms = CommsConfig(ups.commbad_after, ups.nocomm_after)
    plan = ShutdownPlan(steps, sd.self_after_s, None if sd.runtime_low_s == -1 else sd.runtime_low_s,
                        sd.power_cycle_ups)
    wiring = Wiring.THREE_WIRE if gen is not None and gen.control == "three-wire" else Wiring.TWO_WIRE
    policy = PolicyConfig(
        wiring=wiring, pulse_s=gen.pulse_s if gen else 2.0, mains_confirm_s=pol.mains_confirm_s,
        mains_stable_s=pol.mains_stable_s, start_timeout_s=pol.start_timeout_s, start_attempts=pol.start_attempts,
        retry_pause_s=pol.retry_pause_s, warmup_s=pol.warmup_s, cooldown_s=pol.cooldown_s, min_run_s=pol.min_run_s,
        stop_timeout_s=pol.stop_timeout_s, output_timeout_s=pol.output_timeout_s, max_run_s=pol.max_run_s,
        start_charge_below=None if pol.start_charge_below == -1 else pol.start_charge_below,
        stop_charge_above=pol.stop_charge_above,
        quiet=QuietHours(time.fromisoformat(pol.quiet_start), time.fromisoformat(pol.quiet_end),
                         None if pol.quiet_start_charge_below == -1 else pol.quiet_start_charge_below)
        if pol.quiet_start else None,
        exercise=Exercise(pol.exercise_days, time.fromisoformat(pol.exercise_at or "10:00"),
                          pol.exercise_duration_s, pol.exercise_skip_if_ran_s) if pol.exercise_days else None,
        service=ServiceInterval(pol.service_hours, pol.service_months), shutdown=plan)
    return PowerConfig(settings, ups, mains, gen, policy,
                       date.fromisoformat(pol.commissioned_on) if pol.commissioned_on else None,
                       _calibration(ups, path), comms)


def _table(cls: type, table: dict[str, Any], name: str, path: str) -> Any:
    return build_section(cls, table[name], path, f"{PREFIX}.{name}") if name in table else None


def _steps(raw: Any, path: str) -> tuple[ShutdownStep, ...]:
    key = f"{PREFIX}.shutdown.steps"
    if not isinstance(raw, list):
        raise ConfigError(path, key, "must be an array of tables: [[roles.power.shutdown.steps]]")
    steps: list[ShutdownStep] = []
    for i, item in enumerate(raw):
        s = build_section(ShutdownStepSection, item, path, f"{key}[{i}]")
        if any(s.target == other.target for other in steps):
            raise ConfigError(path, f"{key}[{i}].target", f"{s.target!r} is listed twice")
        steps.append(ShutdownStep(s.target, s.after_s))
    return tuple(steps)


def _check_ups(ups: UpsSection, path: str, mock: bool) -> None:
    key = f"{PREFIX}.ups"
    if ups.driver == "q1":
        if not ups.url:
            raise ConfigError(path, f"{key}.url", "is required for driver = \"q1\"")
        if ups.url == SIM and not mock:
            raise ConfigError(path, f"{key}.url", "a simulated UPS needs gpio.pin_factory = \"mock\"")
    elif not ups.ups:
        raise ConfigError(path, f"{key}.ups", "is required for driver = \"nut\" (the UPS name on that upsd)")
    if not ups.name or not all(c.isalnum() or c in "-_." for c in ups.name):
        raise ConfigError(path, f"{key}.name", "may contain only letters, digits, '-', '_' and '.'")
    if ups.battery_cells and ups.cell_empty_v >= ups.cell_full_v:
        raise ConfigError(path, f"{key}.cell_empty_v", "must be below cell_full_v")


def _check_generator(gen: GeneratorSection, path: str) -> None:
    key = f"{PREFIX}.generator"
    needed = {"two-wire": ("run_pin", "running_pin"), "three-wire": ("start_pin", "stop_pin", "running_pin"),
              "deepsea": ()}[gen.control]
    for name in needed:
        if getattr(gen, name) == -1:
            raise ConfigError(path, f"{key}.{name}", f"is required for control = \"{gen.control}\"")
    if gen.control == "deepsea" and not gen.modbus_host:
        raise ConfigError(path, f"{key}.modbus_host", "is required for control = \"deepsea\"")
    used: dict[int, str] = {}
    for name in ("run_pin", "start_pin", "stop_pin", "running_pin", "output_pin", "load_pin"):
        pin = getattr(gen, name)
        if pin != -1 and pin in used:
            raise ConfigError(path, f"{key}.{name}", f"pin {pin} is already used by {key}.{used[pin]}")
        used[pin] = name
    if gen.fuel_channel != -1 and gen.fuel_empty == gen.fuel_full:
        raise ConfigError(path, f"{key}.fuel_full", "must differ from fuel_empty")


def _calibration(ups: UpsSection | None, path: str) -> BatteryCalibration | None:
    if ups is None or ups.driver != "q1" or not ups.battery_cells:
        return None
    try:
        return BatteryCalibration(
            ups.battery_cells, ups.cell_full_v, ups.cell_empty_v,
            None if ups.runtime_full_load_s == -1 else ups.runtime_full_load_s, ups.runtime_exponent,
            sag_per_cell_full_load_v=ups.sag_per_cell_full_load_v)
    except ValueError as exc:
        raise ConfigError(path, f"{PREFIX}.ups", str(exc)) from None
