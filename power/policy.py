"""Generator, mains and UPS policy: a pure state machine.

``step(config, state, inputs)`` is called on every tick (and on every input
change) with the monotonic time and the local wall-clock time passed in. It
returns the new state and the actions to take: relay sequences, load
transfer, notifications, alarms and the orderly shutdown of hosts. It never
does I/O itself. The start/stop logic follows Victron Venus OS's generator
start/stop; the shutdown rule follows NUT's upsmon.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from power.status import UpsState, is_critical


class Phase(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"  # start command given, waiting for running feedback
    RETRY_WAIT = "retry-wait"  # a start failed; pause before the next attempt
    WARMING_UP = "warming-up"  # running without load
    RUNNING = "running"  # carrying the load
    COOLING_DOWN = "cooling-down"  # load removed, still running
    STOPPING = "stopping"  # stop command given, waiting for it to stop
    FAILED = "failed"  # start attempts exhausted


class RunReason(enum.StrEnum):
    MAINS_LOSS = "mains-loss"
    LOW_CHARGE = "low-charge"
    EXERCISE = "exercise"
    MANUAL = "manual"


class PolicyEvent(enum.StrEnum):
    GEN_START = "GEN_START"
    GEN_RUNNING = "GEN_RUNNING"
    GEN_STOP = "GEN_STOP"
    GEN_FAIL = "GEN_FAIL"
    GEN_UNEXPECTED_STOP = "GEN_UNEXPECTED_STOP"
    GEN_NO_OUTPUT = "GEN_NO_OUTPUT"
    GEN_MAX_RUNTIME = "GEN_MAX_RUNTIME"
    GEN_STOP_FAIL = "GEN_STOP_FAIL"
    EXERCISE_SKIPPED = "EXERCISE_SKIPPED"
    SERVICE_DUE = "SERVICE_DUE"
    SHUTDOWN = "SHUTDOWN"


class Command(enum.StrEnum):
    """What a technician can ask for."""

    START = "start"  # run now, whatever the conditions
    STOP = "stop"  # stop now and hold off automatic starts
    AUTO = "auto"  # back to automatic operation (ends a manual run)
    RESET_FAILURE = "reset-failure"
    SERVICE_DONE = "service-done"


_REASON_UK = {RunReason.MAINS_LOSS: "зникла мережа", RunReason.LOW_CHARGE: "низький заряд ДБЖ",
              RunReason.EXERCISE: "планова прогонка", RunReason.MANUAL: "ручний запуск"}
_TEXT = {  # Ukrainian first: technicians read these on the dashboard and in alerts.
    PolicyEvent.GEN_START: ("Запуск генератора", "Generator start"),
    PolicyEvent.GEN_RUNNING: ("Генератор працює під навантаженням", "Generator running on load"),
    PolicyEvent.GEN_STOP: ("Генератор зупинено", "Generator stopped"),
    PolicyEvent.GEN_FAIL: ("Генератор не запустився", "Generator failed to start"),
    PolicyEvent.GEN_UNEXPECTED_STOP: ("Генератор зупинився сам", "Generator stopped unexpectedly"),
    PolicyEvent.GEN_NO_OUTPUT: ("Генератор працює, але напруги на виході немає",
                                "Generator running but no output voltage"),
    PolicyEvent.GEN_MAX_RUNTIME: ("Генератор працює довше за дозволений час",
                                  "Generator exceeded its maximum runtime"),
    PolicyEvent.GEN_STOP_FAIL: ("Генератор не зупиняється", "Generator does not stop"),
    PolicyEvent.EXERCISE_SKIPPED: ("Планову прогонку пропущено: генератор уже працював",
                                   "Exercise run skipped: the generator ran enough"),
    PolicyEvent.SERVICE_DUE: ("Час обслуговування генератора", "Generator service due"),
    PolicyEvent.SHUTDOWN: ("ДБЖ розряджається: впорядковане вимкнення",
                           "UPS critical: orderly shutdown"),
}


# --- relay wiring -------------------------------------------------------------

class Wiring(enum.StrEnum):
    TWO_WIRE = "two-wire"  # runs while the RUN contact is closed
    THREE_WIRE = "three-wire"  # momentary START and STOP contacts


class Contact(enum.StrEnum):
    RUN = "run"
    START = "start"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class RelayStep:
    """Set ``contact`` to ``closed`` and hold that for ``hold_s`` before the next step."""

    contact: Contact
    closed: bool
    hold_s: float = 0.0


def start_sequence(wiring: Wiring, pulse_s: float) -> tuple[RelayStep, ...]:
    if wiring is Wiring.TWO_WIRE:
        return (RelayStep(Contact.RUN, True),)
    return (RelayStep(Contact.START, True, pulse_s), RelayStep(Contact.START, False))


def stop_sequence(wiring: Wiring, pulse_s: float) -> tuple[RelayStep, ...]:
    if wiring is Wiring.TWO_WIRE:
        return (RelayStep(Contact.RUN, False),)
    return (RelayStep(Contact.STOP, True, pulse_s), RelayStep(Contact.STOP, False))


# --- actions ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StartGenerator:
    steps: tuple[RelayStep, ...]
    attempt: int


@dataclass(frozen=True, slots=True)
class StopGenerator:
    steps: tuple[RelayStep, ...]


@dataclass(frozen=True, slots=True)
class ConnectLoad:
    """Let the generator take the load (transfer contactor), after warm-up."""


@dataclass(frozen=True, slots=True)
class DisconnectLoad:
    """Take the load off the generator, before cool-down."""


@dataclass(frozen=True, slots=True)
class Notify:
    """An event for the log and the hub; nothing stays raised."""

    event: PolicyEvent
    text_uk: str
    text_en: str


@dataclass(frozen=True, slots=True)
class RaiseAlarm:
    event: PolicyEvent
    text_uk: str
    text_en: str


@dataclass(frozen=True, slots=True)
class ClearAlarm:
    event: PolicyEvent


@dataclass(frozen=True, slots=True)
class SetForcedShutdown:
    """Show FSD to our NUT clients so that upsmon secondaries shut down."""


@dataclass(frozen=True, slots=True)
class ShutdownHost:
    target: str  # a node id or host name, as configured


@dataclass(frozen=True, slots=True)
class ShutdownSelf:
    power_cycle_ups: bool  # tell the UPS to cut and later restore power


Action = (StartGenerator | StopGenerator | ConnectLoad | DisconnectLoad | Notify | RaiseAlarm
          | ClearAlarm | SetForcedShutdown | ShutdownHost | ShutdownSelf)


def _say(kind, event: PolicyEvent, uk_extra: str = "", en_extra: str = ""):
    uk, en = _TEXT[event]
    return kind(event, uk + uk_extra, en + en_extra)


# --- configuration --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class QuietHours:
    """No starts for mains loss or exercise between ``start`` and ``end`` (may wrap midnight).

    A low UPS still starts the generator: below ``start_charge_below`` %, or
    when the UPS itself reports low battery.
    """

    start: time
    end: time
    start_charge_below: float | None = None

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True, slots=True)
class Exercise:
    """A periodic run to keep the set healthy (Victron: every 28 days, 2 h)."""

    interval_days: int = 28
    at: time = time(10, 0)
    duration_s: float = 2 * 3600
    skip_if_ran_s: float = 2 * 3600  # skipped if it ran this long since the last one


@dataclass(frozen=True, slots=True)
class ServiceInterval:
    """Service every ``hours`` of running or every ``months``, whichever comes first."""

    hours: float = 100.0
    months: int = 6


@dataclass(frozen=True, slots=True)
class ShutdownStep:
    target: str
    after_s: float = 0.0  # wait after the previous step (the first: after going critical)


@dataclass(frozen=True, slots=True)
class ShutdownPlan:
    steps: tuple[ShutdownStep, ...] = ()
    self_after_s: float = 30.0  # this node goes last, this long after the last step
    runtime_low_s: float | None = None  # critical below this estimated runtime on battery
    power_cycle_ups: bool = True


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Times in seconds, charges in percent."""

    wiring: Wiring = Wiring.TWO_WIRE
    pulse_s: float = 2.0  # three-wire start/stop pulse
    mains_confirm_s: float = 10.0
    mains_stable_s: float = 300.0
    start_timeout_s: float = 15.0
    start_attempts: int = 3
    retry_pause_s: float = 30.0
    warmup_s: float = 60.0
    cooldown_s: float = 120.0
    min_run_s: float = 600.0
    stop_timeout_s: float = 30.0
    output_timeout_s: float = 30.0
    max_run_s: float = 12 * 3600.0
    start_charge_below: float | None = None
    stop_charge_above: float = 90.0
    quiet: QuietHours | None = None
    exercise: Exercise | None = None
    service: ServiceInterval = field(default_factory=ServiceInterval)
    shutdown: ShutdownPlan = field(default_factory=ShutdownPlan)


# --- state and inputs --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Counters:
    """What must survive a restart; the shell persists it after every step."""

    commissioned_on: date
    run_s: float = 0.0
    starts: int = 0
    serviced_on: date | None = None
    run_s_at_service: float = 0.0
    last_exercise_on: date | None = None
    run_s_since_exercise: float = 0.0


@dataclass(frozen=True, slots=True)
class PolicyState:
    counters: Counters
    phase: Phase = Phase.STOPPED
    phase_since: float = 0.0
    attempts: int = 0
    reasons: frozenset[RunReason] = frozenset()
    auto: bool = True
    manual: bool = False
    exercise_run_s: float | None = None  # None: no exercise run in progress
    mains_lost_since: float | None = None
    mains_back_since: float | None = None
    running_since: float | None = None
    last_tick: float | None = None
    last_running: bool = False
    alarms: frozenset[PolicyEvent] = frozenset()
    shutdown_since: float | None = None
    shutdown_done: int = 0  # steps taken, this node counting as the last


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    now: float  # monotonic seconds
    wall: datetime  # local wall-clock time (quiet hours, exercise, service dates)
    mains_present: bool
    running: bool  # the generator's running feedback input
    output: bool | None = None  # AC at the generator output; None without a sensor
    ups: UpsState | None = None
    command: Command | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    state: PolicyState
    actions: tuple[Action, ...]


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class ServiceCountdown:
    hours_left: float
    due_on: date
    due: bool


def service_countdown(cfg: PolicyConfig, counters: Counters, today: date) -> ServiceCountdown:
    hours_left = cfg.service.hours - (counters.run_s - counters.run_s_at_service) / 3600
    due_on = add_months(counters.serviced_on or counters.commissioned_on, cfg.service.months)
    return ServiceCountdown(hours_left, due_on, hours_left <= 0 or today >= due_on)


def next_exercise(ex: Exercise, counters: Counters) -> datetime:
    last = counters.last_exercise_on or counters.commissioned_on
    return datetime.combine(last + timedelta(days=ex.interval_days), ex.at)


# --- the step ---------------------------------------------------------------------

def _reasons(cfg: PolicyConfig, st: PolicyState, inp: PolicyInputs, quiet: bool) -> set[RunReason]:
    """Why the generator should run now; reasons already running are kept until they end."""
    now, reasons = inp.now, set()
    if st.manual:
        reasons.add(RunReason.MANUAL)
    if not st.auto:
        return reasons
    lost = not inp.mains_present and now - st.mains_lost_since >= cfg.mains_confirm_s
    stable = inp.mains_present and now - st.mains_back_since >= cfg.mains_stable_s
    had = st.reasons
    # Mains that is back but not yet stable keeps a running set running; a set
    # that has not started yet stops cranking as soon as mains is back.
    engine_up = st.phase in (Phase.WARMING_UP, Phase.RUNNING, Phase.COOLING_DOWN, Phase.STOPPING)
    if lost and (not quiet or RunReason.MAINS_LOSS in had) or RunReason.MAINS_LOSS in had \
            and not stable and (engine_up or not inp.mains_present):
        reasons.add(RunReason.MAINS_LOSS)
    ups = inp.ups
    below = cfg.quiet.start_charge_below if quiet and cfg.quiet else cfg.start_charge_below
    low = ups is not None and ups.on_battery and (
        "LB" in ups.status or below is not None and ups.charge_percent is not None
        and ups.charge_percent <= below)
    # Once started for a low battery, run until it has charged again; without
    # fresh UPS data there is nothing to decide on, so the reason stays.
    recharging = ups is None or ups.comms_lost or ups.on_battery or (
        ups.charge_percent is not None and ups.charge_percent < cfg.stop_charge_above)
    if low or RunReason.LOW_CHARGE in had and recharging:
        reasons.add(RunReason.LOW_CHARGE)
    if st.exercise_run_s is not None:
        reasons.add(RunReason.EXERCISE)
    return reasons


def _enter(st: PolicyState, phase: Phase, now: float, **changes) -> PolicyState:
    return replace(st, phase=phase, phase_since=now, **changes)


def step(cfg: PolicyConfig, st: PolicyState, inp: PolicyInputs) -> Decision:
    """Advance the policy to ``inp.now`` and say what to do."""
    now, acts = inp.now, []
    c = st.counters
    # Run-hours come from the running input, sampled and held between ticks,
    # never from our own commands: a set that did not start did not wear.
    if st.last_running and st.last_tick is not None and now > st.last_tick:
        dt = now - st.last_tick
        c = replace(c, run_s=c.run_s + dt, run_s_since_exercise=c.run_s_since_exercise + dt)
        if st.exercise_run_s is not None:
            st = replace(st, exercise_run_s=st.exercise_run_s + dt)
    st = replace(st, last_tick=now, last_running=inp.running,
                 mains_lost_since=None if inp.mains_present else (
                     st.mains_lost_since if st.mains_lost_since is not None else now),
                 mains_back_since=None if not inp.mains_present else (
                     st.mains_back_since if st.mains_back_since is not None else now))

    cmd = inp.command
    if cmd is Command.START:
        st = replace(st, manual=True)
    elif cmd is Command.STOP:
        st = replace(st, manual=False, auto=False, exercise_run_s=None)
    elif cmd is Command.AUTO:
        st = replace(st, manual=False, auto=True)
    elif cmd is Command.RESET_FAILURE and st.phase is Phase.FAILED:
        st = _enter(st, Phase.STOPPED, now, attempts=0)
    elif cmd is Command.SERVICE_DONE:
        c = replace(c, serviced_on=inp.wall.date(), run_s_at_service=c.run_s)
    cleared = {Command.RESET_FAILURE: PolicyEvent.GEN_FAIL,
               Command.SERVICE_DONE: PolicyEvent.SERVICE_DUE}.get(cmd)
    if cleared in st.alarms:
        acts.append(ClearAlarm(cleared))
        st = replace(st, alarms=st.alarms - {cleared})

    quiet = cfg.quiet is not None and cfg.quiet.contains(inp.wall.time())
    ex = cfg.exercise
    if ex and st.exercise_run_s is not None and st.exercise_run_s >= ex.duration_s:
        st = replace(st, exercise_run_s=None)
        c = replace(c, last_exercise_on=inp.wall.date(), run_s_since_exercise=0.0)
    reasons = _reasons(cfg, st, inp, quiet)
    if ex and not reasons and st.auto and st.phase is Phase.STOPPED and not quiet \
            and inp.wall >= next_exercise(ex, c):
        if c.run_s_since_exercise >= ex.skip_if_ran_s:
            c = replace(c, last_exercise_on=inp.wall.date(), run_s_since_exercise=0.0)
            acts.append(_say(Notify, PolicyEvent.EXERCISE_SKIPPED))
        else:
            st = replace(st, exercise_run_s=0.0)
            reasons.add(RunReason.EXERCISE)
    st = replace(st, reasons=frozenset(reasons), counters=c)

    st = _sequence(cfg, st, inp, bool(reasons), acts)
    st = _alarms(cfg, st, inp, acts)
    st = _shutdown(cfg.shutdown, st, inp, acts)
    return Decision(st, tuple(acts))


def _start(cfg: PolicyConfig, st: PolicyState, now: float, acts: list) -> PolicyState:
    attempt = st.attempts + 1
    acts.append(StartGenerator(start_sequence(cfg.wiring, cfg.pulse_s), attempt))
    if attempt == 1:
        why = sorted(st.reasons)
        acts.append(_say(Notify, PolicyEvent.GEN_START,
                         ": " + ", ".join(_REASON_UK[r] for r in why), ": " + ", ".join(why)))
    c = replace(st.counters, starts=st.counters.starts + 1)
    return _enter(st, Phase.STARTING, now, attempts=attempt, counters=c)


def _sequence(cfg: PolicyConfig, st: PolicyState, inp: PolicyInputs, want: bool,
              acts: list) -> PolicyState:
    now, running, phase = inp.now, inp.running, st.phase
    elapsed = now - st.phase_since
    stop = StopGenerator(stop_sequence(cfg.wiring, cfg.pulse_s))
    if phase is Phase.STOPPED:
        return _start(cfg, st, now, acts) if want else st
    if running and (phase in (Phase.STARTING, Phase.RETRY_WAIT) or phase is Phase.FAILED and want):
        return _enter(st, Phase.WARMING_UP, now, running_since=now)
    if phase is Phase.STARTING:
        if not want:
            acts.append(stop)
            return _enter(st, Phase.STOPPED, now, attempts=0)
        if elapsed < cfg.start_timeout_s:
            return st
        acts.append(stop)
        if st.attempts < cfg.start_attempts:
            return _enter(st, Phase.RETRY_WAIT, now)
        acts.append(_say(RaiseAlarm, PolicyEvent.GEN_FAIL,
                         f" після {st.attempts} спроб", f" after {st.attempts} attempts"))
        c = st.counters
        if st.exercise_run_s is not None:  # do not crank again all day for an exercise
            c = replace(c, last_exercise_on=inp.wall.date(), run_s_since_exercise=0.0)
        return _enter(st, Phase.FAILED, now, exercise_run_s=None, counters=c,
                      alarms=st.alarms | {PolicyEvent.GEN_FAIL})
    if phase is Phase.RETRY_WAIT:
        if not want:
            return _enter(st, Phase.STOPPED, now, attempts=0)
        return _start(cfg, st, now, acts) if elapsed >= cfg.retry_pause_s else st
    if phase is Phase.FAILED:
        # The alarm stays until reset; the lock only lasts while the demand does,
        # so the next blackout gets fresh attempts.
        return st if want else _enter(st, Phase.STOPPED, now, attempts=0)
    if phase in (Phase.WARMING_UP, Phase.RUNNING) and not running:
        if phase is Phase.RUNNING:
            acts.append(DisconnectLoad())
        acts += [stop, _say(Notify, PolicyEvent.GEN_UNEXPECTED_STOP)]
        return _enter(st, Phase.RETRY_WAIT, now, running_since=None)
    ran = now - (st.running_since if st.running_since is not None else now)
    if phase is Phase.WARMING_UP:
        if not want and not st.auto:  # a person's STOP: no load was connected, no cool-down
            acts.append(stop)
            return _enter(st, Phase.STOPPING, now)
        if elapsed < cfg.warmup_s:
            return st
        acts += [ConnectLoad(), _say(Notify, PolicyEvent.GEN_RUNNING)]
        if PolicyEvent.GEN_FAIL in st.alarms:
            acts.append(ClearAlarm(PolicyEvent.GEN_FAIL))
        return _enter(st, Phase.RUNNING, now, alarms=st.alarms - {PolicyEvent.GEN_FAIL})
    if phase is Phase.RUNNING:
        if st.attempts and ran >= cfg.min_run_s:
            st = replace(st, attempts=0)  # a long good run forgives earlier stalls
        # A person's STOP overrides the minimum run time; automatic stops do not.
        if not want and (ran >= cfg.min_run_s or not st.auto):
            acts.append(DisconnectLoad())
            return _enter(st, Phase.COOLING_DOWN, now)
        return st
    if phase is Phase.COOLING_DOWN:
        if not running:  # stopped by itself: still release a two-wire RUN contact
            acts.append(stop)
            return _stopped(st, now, acts)
        if want:
            acts.append(ConnectLoad())
            return _enter(st, Phase.RUNNING, now)
        if elapsed >= cfg.cooldown_s:
            acts.append(stop)
            return _enter(st, Phase.STOPPING, now)
        return st
    # STOPPING
    if not running:
        return _stopped(st, now, acts)
    if elapsed >= cfg.stop_timeout_s and PolicyEvent.GEN_STOP_FAIL not in st.alarms:
        acts.append(_say(RaiseAlarm, PolicyEvent.GEN_STOP_FAIL))
        return replace(st, alarms=st.alarms | {PolicyEvent.GEN_STOP_FAIL})
    return st


def _stopped(st: PolicyState, now: float, acts: list) -> PolicyState:
    acts.append(_say(Notify, PolicyEvent.GEN_STOP))
    done = {PolicyEvent.GEN_STOP_FAIL, PolicyEvent.GEN_MAX_RUNTIME, PolicyEvent.GEN_NO_OUTPUT}
    acts += [ClearAlarm(e) for e in sorted(done & st.alarms)]
    return _enter(st, Phase.STOPPED, now, attempts=0, running_since=None,
                  alarms=st.alarms - done)


def _alarms(cfg: PolicyConfig, st: PolicyState, inp: PolicyInputs, acts: list) -> PolicyState:
    alarms = set(st.alarms)
    ran = None if st.running_since is None else inp.now - st.running_since
    if ran is not None and inp.output is False and ran >= cfg.output_timeout_s \
            and PolicyEvent.GEN_NO_OUTPUT not in alarms:
        alarms.add(PolicyEvent.GEN_NO_OUTPUT)
        acts.append(_say(RaiseAlarm, PolicyEvent.GEN_NO_OUTPUT))
    elif inp.output and PolicyEvent.GEN_NO_OUTPUT in alarms:
        alarms.discard(PolicyEvent.GEN_NO_OUTPUT)
        acts.append(ClearAlarm(PolicyEvent.GEN_NO_OUTPUT))
    if ran is not None and ran >= cfg.max_run_s and PolicyEvent.GEN_MAX_RUNTIME not in alarms:
        alarms.add(PolicyEvent.GEN_MAX_RUNTIME)
        acts.append(_say(RaiseAlarm, PolicyEvent.GEN_MAX_RUNTIME, f" ({ran / 3600:.1f} год)",
                         f" ({ran / 3600:.1f} h)"))
    due = service_countdown(cfg, st.counters, inp.wall.date())
    if due.due and PolicyEvent.SERVICE_DUE not in alarms:
        alarms.add(PolicyEvent.SERVICE_DUE)
        acts.append(_say(RaiseAlarm, PolicyEvent.SERVICE_DUE))
    return replace(st, alarms=frozenset(alarms))


def _shutdown(plan: ShutdownPlan, st: PolicyState, inp: PolicyInputs, acts: list) -> PolicyState:
    """Once the UPS is critical, shut the configured hosts down in order, then this node.

    Like upsmon's FSD this latches: hosts already told to stop cannot be
    un-told, so the plan runs to its end even if mains comes back.
    """
    if st.shutdown_since is None:
        if inp.ups is None or not is_critical(inp.ups, plan.runtime_low_s):
            return st
        acts += [_say(RaiseAlarm, PolicyEvent.SHUTDOWN), SetForcedShutdown()]
        st = replace(st, shutdown_since=inp.now, alarms=st.alarms | {PolicyEvent.SHUTDOWN})
    due, done = st.shutdown_since, st.shutdown_done
    for i, s in enumerate(plan.steps):
        due += s.after_s
        if i >= done and inp.now >= due:
            acts.append(ShutdownHost(s.target))
            done = i + 1
        elif i >= done:
            break
    else:
        due += plan.self_after_s
        if done == len(plan.steps) and inp.now >= due:
            acts.append(ShutdownSelf(plan.power_cycle_ups))
            done += 1
    return replace(st, shutdown_done=done)
