"""The power room's devices on mock pins and a real Modbus server: inputs, relays, fuel, Deep Sea.

Every device runs the code a board runs (``power.hardware``, ``power.deepsea``);
only the pins are gpiozero's mock pins and the controller is pymodbus's own
server with a simulated Deep Sea register map behind it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from edge.config import ConfigError
from power.deepsea import NOT_IMPLEMENTED, REG_INSTRUMENTS, ControlKey, DseController, decode
from power.hardware import (FuelGauge, GeneratorRelays, GeneratorRunning, HeldInput, MainsSensor, WiredGenerator,
                            fuel_percent)
from power.history import History
from power.policy import Contact, StartGenerator, StopGenerator, Wiring, start_sequence, stop_sequence
from power.settings import parse_power_config
from power.sim_deepsea import SimulatedDse
from power.sim_generator import SimulatedFuelSender, SimulatedGenerator, SimulatedMains, drive
from power.status import CommsConfig, CommsState
from tests.conftest import wait_until


async def test_mains_loss_counts_only_after_the_hold_time_and_50hz_gaps_never_do() -> None:
    changes: list[bool] = []
    sensor = MainsSensor(17, MockFactory(), hold_s=0.15, on_change=changes.append)
    mains = SimulatedMains(sensor)
    await wait_until(lambda: sensor.active, what="mains present")
    for _ in range(10):  # an unfiltered optocoupler: 10 ms pulses, 10 ms gaps
        drive(sensor, False)
        await asyncio.sleep(0.01)
        drive(sensor, True)
        await asyncio.sleep(0.01)
    assert changes == [True], "the gaps of a 50 Hz signal are not a blackout"
    mains.cut()
    await asyncio.sleep(0.05)
    assert sensor.active, "not gone before the hold time"
    await wait_until(lambda: not sensor.active, timeout=1, what="mains gone")
    assert changes == [True, False]
    sensor.close()


async def test_an_input_pulled_up_to_a_dry_contact_can_still_mean_present_when_high() -> None:
    sensor = HeldInput(5, MockFactory(), active_high=True, pull_up=True, hold_s=0.05)
    drive(sensor, True)
    await wait_until(lambda: sensor.active, what="active")
    assert sensor.device.pin.state, "active_high: the wire is high while active"
    sensor.close()


async def test_three_wire_start_is_a_pulse_and_a_stop_during_it_opens_start_first() -> None:
    f = MockFactory()
    relays = GeneratorRelays({Contact.START: 5, Contact.STOP: 6}, f)
    await relays.play(start_sequence(Wiring.THREE_WIRE, 0.2))
    await asyncio.sleep(0.05)
    assert relays.closed() == {"start": True, "stop": False}
    await relays.play(stop_sequence(Wiring.THREE_WIRE, 0.1))
    await asyncio.sleep(0.02)
    assert relays.closed() == {"start": False, "stop": True}, "START and STOP are never closed together"
    await asyncio.sleep(0.15)
    assert relays.closed() == {"start": False, "stop": False}
    relays.close()


def wired(f: MockFactory, **sim: Any) -> tuple[WiredGenerator, SimulatedGenerator]:
    gen = WiredGenerator(GeneratorRelays({Contact.RUN: 22}, f), GeneratorRunning(23, f, hold_s=0.05))
    return gen, SimulatedGenerator(gen, start_delay_s=0.1, stop_delay_s=0.05, **sim)


async def test_the_simulated_set_runs_after_its_start_delay_and_stops_when_run_opens() -> None:
    gen, sim = wired(MockFactory())
    sim.start()
    await gen.start(StartGenerator(start_sequence(Wiring.TWO_WIRE, 1), 1))
    await asyncio.sleep(0.05)
    assert not gen.running, "cranking is not running yet"
    await wait_until(lambda: gen.running, timeout=2, what="running feedback")
    await gen.stop(StopGenerator(stop_sequence(Wiring.TWO_WIRE, 1)))
    await wait_until(lambda: not gen.running, timeout=2, what="stopped")
    await sim.stop()
    await gen.close()


async def test_a_set_told_to_fail_cranks_and_never_runs() -> None:
    gen, sim = wired(MockFactory(), fail_starts=1)
    sim.start()
    await gen.start(StartGenerator(start_sequence(Wiring.TWO_WIRE, 1), 1))
    await asyncio.sleep(0.4)
    assert not gen.running and sim.cranks == 1
    await gen.stop(StopGenerator(stop_sequence(Wiring.TWO_WIRE, 1)))
    await asyncio.sleep(0.05)
    await gen.start(StartGenerator(start_sequence(Wiring.TWO_WIRE, 1), 2))
    await wait_until(lambda: gen.running, timeout=2, what="second attempt runs")
    await sim.stop()
    await gen.close()


def test_fuel_level_comes_from_the_sender_marks_either_way_round_and_is_clamped() -> None:
    assert fuel_percent(0.5, 0.1, 0.9) == 50.0
    assert fuel_percent(0.5, 0.9, 0.1) == 50.0  # a sender that reads lower when full
    assert fuel_percent(0.95, 0.1, 0.9) == 100.0 and fuel_percent(0.0, 0.1, 0.9) == 0.0
    with pytest.raises(ValueError):
        fuel_percent(0.5, 0.3, 0.3)


def test_the_mcp3008_is_read_over_mock_spi_from_a_simulated_sender() -> None:
    f = MockFactory()
    previous, Device.pin_factory = Device.pin_factory, None
    try:
        sender = SimulatedFuelSender(f, channel=3, level=0.25, empty=0.1, full=0.9)
        gauge = FuelGauge(3, f, 0.1, 0.9)
        assert gauge.read() == pytest.approx(25.0, abs=0.2)
        sender.level = 1.0
        assert gauge.read() == pytest.approx(100.0, abs=0.2)
        gauge.close()
    finally:
        Device.pin_factory = previous


def test_history_averages_each_step_and_a_missing_reading_is_not_a_zero() -> None:
    h = History(step_s=60)
    assert h.add({"ups_charge": 80.0, "mains": 1.0}, 1200.0) == []
    assert h.add({"mains": 0.0}, 1230.0) == []  # no UPS reading in this sample
    rows = h.add({"ups_charge": 50.0, "mains": 1.0}, 1260.0)
    assert [(r.step, r.bucket, r.values) for r in rows] == [(60, 1200, {"mains": 0.5, "ups_charge": 80.0})]
    coarse = h.add({"mains": 1.0}, 1800.0)
    assert [(r.step, r.bucket) for r in coarse] == [(60, 1260), (600, 1200)]
    assert coarse[1].values["ups_charge"] == 65.0


def test_deepsea_registers_decode_and_not_implemented_is_none_never_a_number() -> None:
    instruments = [380, 82, NOT_IMPLEMENTED, 0xFFFC, NOT_IMPLEMENTED, 138, 1500, 500, 0, 2300]
    accumulated = [0, 7200] + [0] * 8 + [41]
    r = decode([2], instruments, [3], accumulated, at=0.0)
    assert (r.fuel_percent, r.battery_v, r.frequency_hz, r.voltage_l1) == (None, 13.8, 50.0, 230.0)
    assert (r.run_time_s, r.starts, r.running, r.output) == (7200, 41, True, True)
    with pytest.raises(ValueError):
        decode([2], instruments[:5], [3], accumulated, at=0.0)


async def test_deepsea_controller_is_read_started_and_stopped_over_real_modbus() -> None:
    dse = await SimulatedDse(start_delay_s=0.2, warmup_s=0.1, cooldown_s=0.1).start()
    ctl = DseController("127.0.0.1", dse.port, 10, timeout_s=0.5)
    try:
        assert await ctl.poll() == () and ctl.reading is not None
        assert (ctl.reading.fuel_percent, ctl.running, ctl.reading.starts) == (76, False, 40)
        await ctl.start(StartGenerator((), 1))
        assert dse.keys == [ControlKey.MANUAL, ControlKey.START]

        async def running() -> bool:
            await ctl.poll()
            return ctl.running and ctl.output is True
        await wait_until(running, timeout=3, what="engine running")
        await ctl.stop(StopGenerator(()))
        await wait_until(lambda: _polled_stopped(ctl), timeout=3, what="engine stopped")
        dse.not_implemented = {REG_INSTRUMENTS + 3}
        await ctl.poll()
        assert ctl.reading.fuel_percent is None, "an absent sensor is None, not 65535"
    finally:
        await ctl.close()
        await dse.stop()


async def _polled_stopped(ctl: DseController) -> bool:
    await ctl.poll()
    return not ctl.running


async def test_a_silent_controller_times_out_counted_commbad_never_a_crash_never_a_made_up_value() -> None:
    dse = await SimulatedDse().start()
    ctl = DseController("127.0.0.1", dse.port, 10, timeout_s=0.2, comms=CommsConfig(2, 4))
    try:
        await ctl.poll()
        before = ctl.reading
        dse.hang = True
        events = [e for _ in range(4) for e in await ctl.poll()]
        assert [str(e) for e in events] == ["COMMBAD", "NOCOMM"]
        assert ctl.timeouts >= 2 and ctl.comms_state is CommsState.NOCOMM
        assert ctl.reading is before and await ctl.readings() == {}, "stale data is not served as current"
        assert not await ctl.press(ControlKey.START), "a command into silence fails, it does not raise"
        dse.hang = False
        await asyncio.sleep(0.3)
        assert [str(e) for e in await ctl.poll()] == ["COMMOK"]
    finally:
        dse.hang = False
        await ctl.close()
        await dse.stop()


@pytest.mark.parametrize("table, key, reason", [
    ({"mains": {"pin": 17}, "bogus": 1}, "roles.power.bogus", "unknown key"),
    ({"ups": {"driver": "q1"}}, "roles.power.ups.url", "is required"),
    ({"ups": {"driver": "nut"}}, "roles.power.ups.ups", "is required"),
    ({"mains": {"pin": 17}, "generator": {"control": "two-wire", "run_pin": 22}}, "roles.power.generator.running_pin",
     "is required"),
    ({"mains": {"pin": 17}, "generator": {"control": "two-wire", "run_pin": 22, "running_pin": 22}},
     "roles.power.generator.running_pin", "already used"),
    ({"mains": {"pin": 17}, "generator": {"control": "deepsea"}}, "roles.power.generator.modbus_host", "required"),
    ({"generator": {"control": "two-wire", "run_pin": 22, "running_pin": 23}}, "roles.power.mains", "required"),
    ({"mains": {"pin": 40}}, "roles.power.mains.pin", "BCM GPIO"),
    ({"mains": {"pin": 17}, "policy": {"quiet_start": "22:00"}}, "roles.power.policy.quiet_end", "both"),
    ({"mains": {"pin": 17}, "policy": {"exercise_at": "25:00"}}, "roles.power.policy.exercise_at", "HH:MM"),
    ({"mains": {"pin": 17}, "shutdown": {"steps": [{"target": "a"}, {"target": "a"}]}},
     "roles.power.shutdown.steps[1].target", "twice"),
    ({"ups": {"driver": "q1", "url": "/dev/ttyUSB0", "commbad_after": 5, "nocomm_after": 5}},
     "roles.power.ups.nocomm_after", "greater"),
])
def test_a_wrong_power_table_is_refused_with_its_key_and_reason(table: dict[str, Any], key: str,
                                                                 reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_power_config(table, "node.toml")
    assert err.value.key == key and reason in err.value.reason and err.value.path == "node.toml"


def test_a_simulated_ups_and_the_demo_need_mock_pins() -> None:
    with pytest.raises(ConfigError) as err:
        parse_power_config({"ups": {"driver": "q1", "url": "sim"}}, "n.toml", pin_factory_name="lgpio")
    assert err.value.key == "roles.power.ups.url"
    cfg = parse_power_config({"ups": {"driver": "q1", "url": "sim", "battery_cells": 12},
                              "shutdown": {"runtime_low_s": 120, "steps": [{"target": "hall", "after_s": 5}]},
                              "policy": {"quiet_start": "22:00", "quiet_end": "06:00", "exercise_days": 28}}, "n.toml")
    assert cfg.policy.shutdown.steps[0].target == "hall" and cfg.policy.shutdown.runtime_low_s == 120
    assert cfg.policy.quiet is not None and cfg.policy.exercise is not None and cfg.calibration is not None
