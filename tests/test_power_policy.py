"""Generator/mains/UPS policy, driven by a fake clock and a fake generator."""

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from power.policy import (
    ClearAlarm, Command, ConnectLoad, Contact, Counters, DisconnectLoad, Exercise, Notify, Phase,
    PolicyConfig, PolicyInputs, PolicyState, QuietHours, RaiseAlarm, RelayStep, ServiceInterval,
    SetForcedShutdown, ShutdownHost, ShutdownPlan, ShutdownSelf, ShutdownStep, StartGenerator,
    StopGenerator, Wiring, add_months, next_exercise, service_countdown, start_sequence, step,
    stop_sequence,
)
from power.status import UpsState

NOON = datetime(2025, 3, 12, 12, 0)  # wall clock at t = 0
CFG = PolicyConfig(mains_confirm_s=10, mains_stable_s=300, start_timeout_s=15, start_attempts=3,
                   retry_pause_s=30, warmup_s=60, cooldown_s=120, min_run_s=600,
                   stop_timeout_s=30, output_timeout_s=30, max_run_s=6 * 3600)


@dataclass
class FakeGenerator:
    """Follows the relay like a real set: runs a few seconds after a start, if it can."""

    start_delay: float = 3
    stop_delay: float = 2
    starts_ok: bool = True
    running: bool = False
    _change_at: float | None = None
    _target: bool = False

    def command(self, action, now):
        if isinstance(action, StartGenerator) and self.starts_ok:
            self._change_at, self._target = now + self.start_delay, True
        elif isinstance(action, StopGenerator):
            self._change_at, self._target = now + self.stop_delay, False

    def advance(self, now):
        if self._change_at is not None and now >= self._change_at:
            self.running, self._change_at = self._target, None


class Site:
    """One power node: mains input, a generator, a UPS, the policy, one tick a second."""

    def __init__(self, cfg=CFG, counters=None, wall0=NOON, gen=None):
        self.cfg, self.wall0 = cfg, wall0
        self.state = PolicyState(counters or Counters(commissioned_on=wall0.date()))
        self.gen = gen or FakeGenerator()
        self.now, self.mains, self.ups, self.output = -1.0, True, None, None
        self.log: list[tuple[float, object]] = []

    def tick(self, command=None, dt=1.0):
        self.now += dt
        self.gen.advance(self.now)
        inp = PolicyInputs(now=self.now, wall=self.wall0 + timedelta(seconds=self.now),
                           mains_present=self.mains, running=self.gen.running,
                           output=self.output, ups=self.ups, command=command)
        decision = step(self.cfg, self.state, inp)
        self.state = decision.state
        for action in decision.actions:
            self.gen.command(action, self.now)
            self.log.append((self.now, action))
        return decision.actions

    def until(self, t, dt=1.0):
        """Tick every ``dt`` seconds (the last step shorter) up to ``t``."""
        while self.now < t:
            self.tick(dt=min(dt, t - self.now))
        return self

    def events(self, since=0.0):
        return names([a for when, a in self.log if when >= since])


def names(actions):
    """Actions as short names, e.g. 'start', 'GEN_RUNNING', 'clear:GEN_FAIL'."""
    plain = {StartGenerator: "start", StopGenerator: "stop", ConnectLoad: "load-on",
             DisconnectLoad: "load-off", SetForcedShutdown: "fsd", ShutdownSelf: "shutdown-self"}
    out = []
    for a in actions:
        if type(a) in plain:
            out.append(plain[type(a)])
        elif isinstance(a, (Notify, RaiseAlarm)):
            out.append(str(a.event))
        elif isinstance(a, ClearAlarm):
            out.append(f"clear:{a.event}")
        elif isinstance(a, ShutdownHost):
            out.append(f"shutdown:{a.target}")
    return out


# --- the main story as a table ---------------------------------------------------

def test_blackout_story_confirm_start_warmup_run_then_stable_mains_cooldown_stop():
    site = Site().until(99)
    site.mains = False  # the grid goes at t = 100
    table = [  # (time, phase after the tick, what happened at that tick)
        (109, Phase.STOPPED, []),
        (110, Phase.STARTING, ["start", "GEN_START"]),
        (113, Phase.WARMING_UP, []),
        (172, Phase.WARMING_UP, []),
        (173, Phase.RUNNING, ["load-on", "GEN_RUNNING"]),
    ]
    for t, phase, events in table:
        site.until(t - 1)
        assert names(site.tick()) == events, t
        assert site.state.phase is phase, t
    site.until(999)
    site.mains = True  # the grid is back at t = 1000
    table = [
        (1299, Phase.RUNNING, []),
        (1300, Phase.COOLING_DOWN, ["load-off"]),
        (1420, Phase.STOPPING, ["stop"]),
        (1422, Phase.STOPPED, ["GEN_STOP"]),
    ]
    for t, phase, events in table:
        site.until(t - 1)
        assert names(site.tick()) == events, t
        assert site.state.phase is phase, t
    assert site.state.counters.starts == 1


def test_start_event_says_why_in_ukrainian_first():
    site = Site().until(5)
    site.mains = False
    site.until(30)
    notice = next(a for _, a in site.log if isinstance(a, Notify))
    assert notice.text_uk == "Запуск генератора: зникла мережа"
    assert notice.text_en == "Generator start: mains-loss"


def test_mains_dip_shorter_than_the_confirmation_delay_starts_nothing():
    site = Site().until(10)
    site.mains = False
    site.until(18)
    site.mains = True
    site.until(100)
    assert site.events() == []


def test_mains_back_but_not_yet_stable_keeps_the_generator_running():
    site = Site().until(10)
    site.mains = False
    site.until(1000)
    site.mains = True
    site.until(1200)
    site.mains = False  # flickers off again before it was stable
    site.until(1210)
    site.mains = True
    site.until(1500)
    assert site.state.phase is Phase.RUNNING  # stability counts from 1211 again
    site.until(1511)
    assert site.state.phase is Phase.COOLING_DOWN


def test_minimum_run_time_holds_even_when_mains_is_stable_sooner():
    cfg = replace(CFG, mains_stable_s=20)
    site = Site(cfg).until(10)
    site.mains = False
    site.until(100)  # lost from 11, started at 21, running from 24
    site.mains = True
    site.until(623)
    assert site.state.phase is Phase.RUNNING
    site.until(624)
    assert site.state.phase is Phase.COOLING_DOWN


def test_mains_back_while_still_cranking_aborts_the_start():
    site = Site(gen=FakeGenerator(start_delay=100)).until(10)
    site.mains = False
    site.until(25)
    site.mains = True
    site.until(26)
    assert site.state.phase is Phase.STOPPED and site.events() == ["start", "GEN_START", "stop"]


def test_mains_lost_again_during_cooldown_takes_the_load_back_without_restarting():
    site = Site().until(10)
    site.mains = False
    site.until(800)
    site.mains = True
    site.until(1150)  # cooling down since 1101
    site.mains = False
    site.until(1160)
    assert site.state.phase is Phase.COOLING_DOWN  # a new loss is confirmed again
    site.until(1161)
    assert site.state.phase is Phase.RUNNING
    assert site.events(1100) == ["load-off", "load-on"]


# --- failures -------------------------------------------------------------------

def test_failed_starts_are_retried_then_gen_fail_is_raised():
    site = Site(gen=FakeGenerator(starts_ok=False)).until(10)
    site.mains = False
    site.until(400)
    assert site.events() == ["start", "GEN_START", "stop", "start", "stop", "start", "stop",
                             "GEN_FAIL"]
    assert [t for t, a in site.log if isinstance(a, StartGenerator)] == [21, 66, 111]
    assert site.state.phase is Phase.FAILED


def test_gen_fail_alarm_text_counts_the_attempts():
    site = Site(gen=FakeGenerator(starts_ok=False)).until(10)
    site.mains = False
    site.until(400)
    alarm = next(a for _, a in site.log if isinstance(a, RaiseAlarm))
    assert alarm.text_uk == "Генератор не запустився після 3 спроб"


def test_after_gen_fail_the_next_blackout_gets_fresh_attempts_but_the_alarm_stays():
    gen = FakeGenerator(starts_ok=False)
    site = Site(gen=gen).until(10)
    site.mains = False
    site.until(400)
    site.mains = True
    site.until(401)
    assert site.state.phase is Phase.STOPPED
    gen.starts_ok = True
    site.mains = False
    site.until(500)
    assert site.state.phase is Phase.RUNNING
    assert site.events(400) == ["start", "GEN_START", "load-on", "GEN_RUNNING", "clear:GEN_FAIL"]


def test_reset_failure_clears_the_alarm():
    site = Site(gen=FakeGenerator(starts_ok=False)).until(10)
    site.mains = False
    site.until(400)
    site.tick(Command.RESET_FAILURE)
    assert "clear:GEN_FAIL" in site.events(401)


def test_a_late_start_during_the_retry_pause_is_accepted():
    site = Site(gen=FakeGenerator(starts_ok=False)).until(10)
    site.mains = False
    site.until(40)  # started at 21, given up at 36
    assert site.state.phase is Phase.RETRY_WAIT
    site.gen.running = True  # it caught after all
    site.until(41)
    assert site.state.phase is Phase.WARMING_UP


def test_engine_dying_under_load_is_reported_and_restarted():
    site = Site().until(10)
    site.mains = False
    site.until(200)
    site.gen.running = False  # out of fuel, say
    site.until(240)
    assert site.events(200) == ["load-off", "stop", "GEN_UNEXPECTED_STOP", "start"]
    site.until(400)
    assert site.state.phase is Phase.RUNNING


def test_no_output_after_start_raises_an_alarm_and_clears_when_output_appears():
    site = Site().until(10)
    site.output = False
    site.mains = False
    site.until(53)
    assert "GEN_NO_OUTPUT" not in site.events()
    site.until(54)  # running since 24, 30 s without output
    assert site.events()[-1] == "GEN_NO_OUTPUT"
    site.output = True
    site.until(60)
    assert site.events()[-1] == "clear:GEN_NO_OUTPUT"


def test_maximum_runtime_raises_an_alarm_once_and_clears_after_stop():
    site = Site().until(10)
    site.mains = False
    site.until(200)
    site.until(24 + 6 * 3600 - 1, dt=60)
    assert "GEN_MAX_RUNTIME" not in site.events()
    site.until(24 + 6 * 3600 + 100)
    assert site.events().count("GEN_MAX_RUNTIME") == 1
    site.mains = True
    site.until(site.now + 1000, dt=5)
    assert site.events()[-2:] == ["GEN_STOP", "clear:GEN_MAX_RUNTIME"]


def test_generator_that_will_not_stop_raises_an_alarm():
    site = Site(gen=FakeGenerator(stop_delay=10_000)).until(10)
    site.mains = False
    site.until(800)
    site.mains = True
    site.until(1101 + 120 + 30)  # stable at 1101, cool-down, stop timeout
    assert site.events()[-1] == "GEN_STOP_FAIL" and site.state.phase is Phase.STOPPING


# --- run hours and service ---------------------------------------------------------

def test_run_hours_come_from_the_running_input_not_from_the_command():
    site = Site(gen=FakeGenerator(starts_ok=False)).until(10)
    site.mains = False
    site.until(400)
    assert site.state.counters.run_s == 0 and site.state.counters.starts == 3
    site.gen.running = True  # someone started it by hand; seen first at 401
    site.until(500)
    assert site.state.counters.run_s == 99


def test_service_is_due_after_the_running_hours_with_one_alarm():
    counters = Counters(commissioned_on=NOON.date(), run_s=99.9 * 3600)
    site = Site(counters=counters).until(10)
    site.mains = False
    site.until(383)  # running seen from 24: 360 s more make 100 h at 384
    assert site.events().count("SERVICE_DUE") == 0
    site.until(384)
    assert site.events().count("SERVICE_DUE") == 1
    site.until(2000)
    assert site.events().count("SERVICE_DUE") == 1


def test_service_is_due_after_the_months_even_without_running():
    counters = Counters(commissioned_on=date(2024, 9, 12))
    site = Site(counters=counters).until(2)
    assert site.events() == ["SERVICE_DUE"]


def test_service_done_clears_the_alarm_and_restarts_the_countdown():
    counters = Counters(commissioned_on=date(2024, 1, 1), run_s=150 * 3600)
    site = Site(counters=counters).until(2)
    site.tick(Command.SERVICE_DONE)
    assert site.events()[-1] == "clear:SERVICE_DUE"
    left = service_countdown(CFG, site.state.counters, NOON.date())
    assert left.hours_left == 100 and left.due_on == date(2025, 9, 12) and not left.due
    site.until(100)
    assert site.events().count("SERVICE_DUE") == 1


def test_service_countdown_takes_whichever_comes_first():
    counters = Counters(commissioned_on=date(2025, 1, 1), run_s=40 * 3600)
    cd = service_countdown(replace(CFG, service=ServiceInterval(hours=50, months=3)), counters,
                           date(2025, 3, 31))
    assert cd.hours_left == 10 and cd.due_on == date(2025, 4, 1) and not cd.due


@pytest.mark.parametrize("start, months, end", [(date(2024, 8, 31), 6, date(2025, 2, 28)),
                                                (date(2023, 8, 31), 6, date(2024, 2, 29)),
                                                (date(2024, 11, 15), 2, date(2025, 1, 15))])
def test_adding_months_clamps_to_the_end_of_the_month(start, months, end):
    assert add_months(start, months) == end


# --- quiet hours -------------------------------------------------------------------

QUIET = replace(CFG, quiet=QuietHours(time(22, 0), time(7, 0), start_charge_below=30))
NIGHT = datetime(2025, 3, 12, 23, 0)


def test_no_start_for_mains_loss_in_quiet_hours_until_they_end():
    site = Site(QUIET, wall0=NIGHT).until(10)
    site.mains = False
    site.until(8 * 3600 - 1, dt=60)  # 06:59:59
    assert site.events() == []
    site.until(8 * 3600 + 1)
    assert site.events() == ["start", "GEN_START"]


def test_a_generator_already_running_keeps_running_into_quiet_hours():
    site = Site(QUIET, wall0=datetime(2025, 3, 12, 21, 0)).until(10)
    site.mains = False
    site.until(2 * 3600, dt=10)
    assert site.state.phase is Phase.RUNNING


def test_in_quiet_hours_a_low_ups_still_starts_the_generator():
    site = Site(QUIET, wall0=NIGHT).until(10)
    site.mains = False
    site.ups = UpsState(frozenset({"OB"}), charge_percent=45)
    site.until(100)
    assert site.events() == []
    site.ups = UpsState(frozenset({"OB"}), charge_percent=29)
    site.until(102)
    assert site.events() == ["start", "GEN_START"]


def test_ups_low_battery_flag_starts_the_generator_even_without_a_threshold():
    site = Site(QUIET, wall0=NIGHT).until(10)
    site.ups = UpsState(frozenset({"OB", "LB"}))
    site.mains = False
    site.until(12)
    assert site.events()[:1] == ["start"]


# --- low charge, manual, exercise ----------------------------------------------------

def test_low_charge_start_runs_until_the_ups_has_recharged():
    cfg = replace(CFG, start_charge_below=40, stop_charge_above=90)
    site = Site(cfg).until(10)
    site.ups = UpsState(frozenset({"OB"}), charge_percent=39)  # mains sensor says present
    site.until(12)
    assert site.events() == ["start", "GEN_START"]
    site.ups = UpsState(frozenset({"OL", "CHRG"}), charge_percent=70)
    site.until(1000)
    assert site.state.phase is Phase.RUNNING
    site.ups = UpsState(frozenset({"OL"}), charge_percent=95)
    site.until(1001)
    assert site.state.phase is Phase.COOLING_DOWN


def test_manual_start_runs_without_any_condition_and_auto_ends_it_after_min_run():
    site = Site().until(5)
    site.tick(Command.START)
    site.until(200)
    assert site.state.phase is Phase.RUNNING
    site.tick(Command.AUTO)
    site.until(600)
    assert site.state.phase is Phase.RUNNING  # minimum run time since 10
    site.until(611)
    assert site.state.phase is Phase.COOLING_DOWN


def test_stop_command_overrides_min_run_and_holds_off_automatic_starts():
    site = Site().until(10)
    site.mains = False
    site.until(200)
    site.tick(Command.STOP)
    assert site.state.phase is Phase.COOLING_DOWN
    site.until(1000)
    assert site.state.phase is Phase.STOPPED  # mains is still out: a person said stop
    site.tick(Command.AUTO)
    assert site.events(1001)[:2] == ["start", "GEN_START"]


EX = replace(CFG, exercise=Exercise(interval_days=28, at=time(10, 0), duration_s=3600,
                                    skip_if_ran_s=1800))


def test_exercise_runs_when_due_for_its_duration_then_stops():
    counters = Counters(commissioned_on=date(2025, 2, 12))  # due 2025-03-12 10:00, before NOON
    site = Site(EX, counters=counters).until(5)
    assert site.events() == ["start", "GEN_START"]
    site.until(3600 + 2)  # running seen from 3; an hour of it includes the warm-up
    assert site.state.phase is Phase.RUNNING
    site.until(3600 + 3)
    assert site.state.phase is Phase.COOLING_DOWN
    assert site.state.counters.last_exercise_on == NOON.date()
    assert next_exercise(EX.exercise, site.state.counters) == datetime(2025, 4, 9, 10, 0)


def test_exercise_is_skipped_when_the_generator_already_ran_enough():
    counters = Counters(commissioned_on=date(2025, 2, 12), run_s_since_exercise=2000)
    site = Site(EX, counters=counters).until(5)
    assert site.events() == ["EXERCISE_SKIPPED"]
    assert site.state.counters.last_exercise_on == NOON.date()
    assert site.state.counters.run_s_since_exercise == 0


def test_exercise_waits_until_it_is_due():
    counters = Counters(commissioned_on=date(2025, 2, 13))
    assert Site(EX, counters=counters).until(600).events() == []


def test_exercise_is_not_started_in_quiet_hours():
    cfg = replace(EX, quiet=QuietHours(time(22, 0), time(7, 0)))
    site = Site(cfg, counters=Counters(commissioned_on=date(2025, 2, 1)), wall0=NIGHT).until(600)
    assert site.events() == []


# --- orderly shutdown -----------------------------------------------------------------

PLAN = replace(CFG, shutdown=ShutdownPlan(
    steps=(ShutdownStep("hall-display", 0), ShutdownStep("nas", 20), ShutdownStep("hub", 10)),
    self_after_s=30, runtime_low_s=300))


def test_critical_ups_shuts_hosts_down_in_order_with_delays_then_this_node():
    site = Site(PLAN).until(10)
    site.ups = UpsState(frozenset({"OB", "LB"}))
    site.until(200)
    order = [e for e in site.events() if e.startswith("shutdown") or e in ("SHUTDOWN", "fsd")]
    assert order == ["SHUTDOWN", "fsd", "shutdown:hall-display", "shutdown:nas", "shutdown:hub",
                     "shutdown-self"]
    times = [t for t, a in site.log if isinstance(a, (ShutdownHost, ShutdownSelf))]
    assert times == [11, 31, 41, 71]


def test_low_runtime_on_battery_is_critical_too():
    site = Site(PLAN).until(10)
    site.ups = UpsState(frozenset({"OB"}), runtime_s=299)
    site.until(11)
    assert "SHUTDOWN" in site.events()


def test_shutdown_latches_even_if_mains_returns():
    site = Site(PLAN).until(10)
    site.ups = UpsState(frozenset({"OB", "LB"}))
    site.until(25)
    site.ups = UpsState(frozenset({"OL"}))
    site.until(200)
    assert site.events().count("shutdown-self") == 1 and site.events().count("SHUTDOWN") == 1


def test_healthy_ups_on_battery_is_not_a_reason_to_shut_down():
    site = Site(PLAN).until(10)
    site.ups = UpsState(frozenset({"OB"}), runtime_s=1200)
    assert site.until(100).events() == []


# --- relay wiring as data ------------------------------------------------------------

def test_two_wire_start_closes_run_and_stop_opens_it():
    assert start_sequence(Wiring.TWO_WIRE, 2) == (RelayStep(Contact.RUN, True),)
    assert stop_sequence(Wiring.TWO_WIRE, 2) == (RelayStep(Contact.RUN, False),)


def test_three_wire_start_and_stop_are_momentary_pulses():
    assert start_sequence(Wiring.THREE_WIRE, 1.5) == (RelayStep(Contact.START, True, 1.5),
                                                      RelayStep(Contact.START, False))
    assert stop_sequence(Wiring.THREE_WIRE, 1.5) == (RelayStep(Contact.STOP, True, 1.5),
                                                     RelayStep(Contact.STOP, False))


def test_policy_uses_the_configured_wiring():
    site = Site(replace(CFG, wiring=Wiring.THREE_WIRE, pulse_s=3)).until(10)
    site.mains = False
    site.until(25)
    start = next(a for _, a in site.log if isinstance(a, StartGenerator))
    assert start.steps[0] == RelayStep(Contact.START, True, 3) and start.attempt == 1


def test_generator_stopping_by_itself_in_cooldown_counts_as_stopped_and_releases_the_relay():
    site = Site().until(10)
    site.mains = False
    site.until(800)
    site.mains = True
    site.until(1150)  # cooling down since 1101
    site.gen.running = False
    site.until(1151)
    assert site.events(1151) == ["stop", "GEN_STOP"] and site.state.phase is Phase.STOPPED


# --- whatever the inputs do ------------------------------------------------------------

tick_inputs = st.tuples(st.booleans(), st.booleans(), st.sampled_from([None, True, False]),
                        st.sampled_from([None, frozenset({"OL"}), frozenset({"OB"}),
                                         frozenset({"OB", "LB"})]),
                        st.sampled_from([None, None, None, *Command]), st.integers(1, 120))


@settings(max_examples=60, deadline=None)
@given(st.lists(tick_inputs, min_size=1, max_size=150))
def test_random_inputs_never_crash_and_relays_and_load_alternate(ticks):
    cfg = replace(PLAN, exercise=EX.exercise, quiet=QUIET.quiet, start_charge_below=40)
    state, now, run_s = PolicyState(Counters(commissioned_on=date(2025, 1, 1))), 0.0, 0.0
    relay, load = [], []
    for mains, running, output, status, command, dt in ticks:
        now += dt
        ups = None if status is None else UpsState(status, charge_percent=35)
        inp = PolicyInputs(now, NIGHT + timedelta(seconds=now), mains, running, output, ups, command)
        decision = step(cfg, state, inp)
        state = decision.state
        assert state.counters.run_s >= run_s
        run_s = state.counters.run_s
        relay += [type(a) for a in decision.actions if isinstance(a, (StartGenerator, StopGenerator))]
        load += [type(a) for a in decision.actions if isinstance(a, (ConnectLoad, DisconnectLoad))]
    assert all(not (a is b is StartGenerator) for a, b in zip(relay, relay[1:]))
    assert all(a is not b for a, b in zip(load, load[1:])) and load[:1] != [DisconnectLoad]
