"""The Q1 driver against the simulated UPS through a real pty: readings, garbage, commands."""

from __future__ import annotations

from typing import Iterator

import pytest

from power.q1 import BatteryCalibration, Q1Error, Q1Fault
from power.q1driver import AsyncQ1Driver, Q1Driver, Q1DriverConfig, Q1Link
from power.sim_ups import Garble, ScriptStep, SimState, SimulatedQ1Ups, SimUpsConfig
from power.status import CommsConfig, CommsState, UpsEvent
from tests.conftest import wait_until

CAL = BatteryCalibration(cells=12, runtime_full_load_s=600)
FAST = CommsConfig(commbad_after=3, nocomm_after=6)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def sim() -> Iterator[SimulatedQ1Ups]:
    with SimulatedQ1Ups() as s:
        yield s


def make_driver(port: str, **kw) -> Q1Driver:
    kw.setdefault("read_timeout_s", 0.2)
    kw.setdefault("echo_window_s", 0.1)  # no command here is echoed; keep the tests quick
    clock = kw.pop("clock", None)
    cfg = Q1DriverConfig(port, calibration=CAL, comms=FAST, **kw)
    return Q1Driver(cfg, clock=clock) if clock else Q1Driver(cfg)


@pytest.fixture
def driver(sim: SimulatedQ1Ups) -> Iterator[Q1Driver]:
    d = make_driver(sim.port)
    yield d
    d.close()


def test_driver_reads_status_rating_and_info_over_the_pty(sim, driver):
    driver.identify()
    assert driver.poll() == ()  # first reading on line: nothing worth an alarm
    v = driver.reading.variables
    assert v["ups.status"] == "OL"
    assert v["device.mfr"] == "HROMADA-SIM" and v["device.model"] == "Q1-SIM-1K"
    assert v["battery.voltage.nominal"] == "24.0"
    assert float(v["battery.voltage"]) == sim.status().battery_voltage
    # Q1 has no charge: ours is derived from the voltage and says so.
    assert v["battery.charge.estimated"] == "yes" and v["battery.runtime.estimated"] == "yes"
    assert list(sim.received)[:3] == ["F", "I", "Q1"]


def test_scenario_on_battery_then_low_then_back_on_line_gives_nut_events(sim, driver):
    driver.poll()
    sim.go(SimState.ON_BATTERY)
    assert driver.poll() == (UpsEvent.ONBATT,)
    on_battery_v = driver.reading.status.battery_voltage
    sim.go(SimState.LOW_BATTERY)
    assert driver.poll() == (UpsEvent.LOWBATT,)
    assert set(driver.reading.variables["ups.status"].split()) == {"OB", "DISCHRG", "LB"}
    assert driver.reading.status.battery_voltage < on_battery_v
    assert driver.ups_state().on_battery and "LB" in driver.ups_state().status
    sim.go(SimState.ON_LINE)
    assert driver.poll() == (UpsEvent.ONLINE,)
    assert "LB" not in driver.reading.variables["ups.status"]


def test_battery_drains_under_load_and_raises_low_battery_by_itself():
    clock = FakeClock()
    with SimulatedQ1Ups(SimUpsConfig(discharge_s=100, low_charge=0.25), clock=clock) as s:
        full = s.status().battery_voltage
        s.go(SimState.ON_BATTERY)
        sagged = s.status().battery_voltage
        assert sagged < full  # the load pulls the voltage down at once
        clock.t += 50
        half = s.status().battery_voltage
        assert half < sagged and s.state is SimState.ON_BATTERY
        s.set_load(60)  # twice the load: the rest goes twice as fast
        clock.t += 13
        assert s.state is SimState.LOW_BATTERY and s.status().flags.battery_low
        s.go(SimState.ON_LINE)
        clock.t += 600
        assert s.state is SimState.ON_LINE and not s.status().flags.battery_low


def test_a_timed_script_steps_through_the_blackout():
    clock = FakeClock()
    script = [ScriptStep(0, SimState.ON_LINE), ScriptStep(5, SimState.ON_BATTERY),
              ScriptStep(8, SimState.LOW_BATTERY), ScriptStep(12, SimState.ON_LINE)]
    with SimulatedQ1Ups(clock=clock) as s:
        s.play(script)
        seen = []
        for _ in range(14):
            seen.append(s.state)
            clock.t += 1
        assert seen == [SimState.ON_LINE] * 5 + [SimState.ON_BATTERY] * 3 + \
            [SimState.LOW_BATTERY] * 4 + [SimState.ON_LINE] * 2
        assert s.script_done


@pytest.mark.parametrize("garble, fault", [
    (Garble.WRONG_LENGTH, Q1Fault.LENGTH), (Garble.AT_FIELDS, Q1Fault.FIELD_MISSING),
    (Garble.ECHO, Q1Fault.ECHO), (Garble.SILENCE, Q1Fault.EMPTY), (Garble.NOISE, Q1Fault.NOT_ASCII),
])
def test_a_garbled_reply_is_counted_and_never_becomes_a_reading(sim, driver, garble, fault):
    driver.poll()
    good = driver.reading
    sim.go(SimState.ON_BATTERY)
    sim.garble(garble, count=1)
    assert driver.poll() == ()  # one bad reply is below the COMMBAD threshold
    assert driver.reading is good  # kept, not patched with the garbled values
    assert driver.health.last_fault == fault and driver.health.total_failures == 1
    assert driver.poll() == (UpsEvent.ONBATT,)  # the next good reply is believed again


def test_silence_turns_into_commbad_then_nocomm_and_recovers_with_commok(sim, driver):
    driver.poll()
    sim.garble(Garble.SILENCE)
    events = [driver.poll() for _ in range(FAST.nocomm_after)]
    assert events[FAST.commbad_after - 1] == (UpsEvent.COMMBAD,)
    assert events[FAST.nocomm_after - 1] == (UpsEvent.NOCOMM,)
    assert sum(map(len, events)) == 2
    assert driver.health.state is CommsState.NOCOMM
    view = driver.view("ups")
    assert view.stale and view.variables == {}  # upsd would answer DATA-STALE
    assert driver.current() is None and driver.ups_state().comms_lost
    sim.garble(None)
    assert driver.poll() == (UpsEvent.COMMOK,)
    assert not driver.view("ups").stale and driver.current() is not None


def test_echoes_and_at_fields_in_a_row_reach_commbad_too(sim, driver):
    driver.poll()
    sim.garble(Garble.ECHO, count=2)
    driver.poll(), driver.poll()
    sim.garble(Garble.AT_FIELDS, count=1)
    assert driver.poll() == (UpsEvent.COMMBAD,)
    assert driver.health.consecutive_failures == 3


def test_units_that_never_fill_a_field_may_be_allowed_to(sim):
    d = make_driver(sim.port, allow_missing=frozenset({"input_voltage"}))
    try:
        sim.garble(Garble.AT_FIELDS, count=1)
        d.poll()
        assert d.health.state is CommsState.OK
        assert "input.voltage" not in d.reading.variables  # left out, not invented
    finally:
        d.close()


def test_a_reading_older_than_max_age_is_not_current(sim):
    clock = FakeClock()
    d = make_driver(sim.port, clock=clock, max_age_s=15)
    try:
        d.poll()
        clock.t += 14
        assert d.current() is not None
        clock.t += 2
        assert d.current() is None and d.view("ups").stale and d.ups_state().comms_lost
    finally:
        d.close()


def test_battery_test_and_shutdown_commands_reach_the_unit(sim, driver):
    driver.test_battery()
    driver.poll()
    assert "T" in sim.received and "CAL" in driver.reading.variables["ups.status"]
    driver.instcmd("test.battery.stop")
    driver.shutdown(12, restore_after_min=0)
    driver.poll()
    assert "CAL" not in driver.reading.variables["ups.status"]
    assert "S.2R0000" in sim.received and "FSD" in driver.reading.variables["ups.status"]
    driver.cancel_shutdown()
    driver.poll()
    assert "FSD" not in driver.reading.variables["ups.status"]
    assert [c for c in sim.received if c not in ("Q1", "F", "I")] == ["T", "CT", "S.2R0000", "C"]


def test_a_command_the_unit_echoes_is_reported_as_unsupported(sim):
    link = Q1Link(sim.port, read_timeout_s=0.2)
    try:
        with pytest.raises(Q1Error) as e:
            link.send(b"QPI\r", echo_window_s=0.5)
        assert e.value.fault is Q1Fault.ECHO
    finally:
        link.close()


def test_a_missing_port_is_counted_as_bad_communication_not_a_crash(tmp_path):
    d = make_driver(str(tmp_path / "ttyUSB9"))
    assert [d.poll() for _ in range(3)][-1] == (UpsEvent.COMMBAD,)
    view = d.view("ups")
    assert not view.connected  # upsd's DRIVER-NOT-CONNECTED
    assert d.health.last_fault == "serial-error"


def test_the_driver_reopens_the_port_after_it_was_closed(sim, driver):
    driver.poll()
    driver.link.close()
    sim.go(SimState.ON_BATTERY)
    assert driver.poll() == (UpsEvent.ONBATT,)


async def test_async_driver_polls_in_its_thread_and_hands_events_to_the_loop(sim):
    events: list[UpsEvent] = []
    d = AsyncQ1Driver(make_driver(sim.port, poll_interval_s=0.05), on_events=events.extend)
    await d.start()
    try:
        await wait_until(lambda: d.view("ups").variables.get("ups.status") == "OL", 5, what="OL")
        sim.go(SimState.ON_BATTERY)
        await wait_until(lambda: UpsEvent.ONBATT in events, 5, what="ONBATT")
        await d.instcmd("test.battery.start.quick")
        assert "T" in sim.received
        await d.shutdown(60, restore_after_min=1)
        assert "S01R0001" in sim.received
    finally:
        await d.stop()
