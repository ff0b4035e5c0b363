"""ups.status composition, events, the critical rule and communication health."""

from dataclasses import replace

import pytest

from power.q1 import BatteryEstimate, Q1Flags, Q1Info, Q1Rating, parse_q1
from power.status import (
    CommsConfig, CommsHealth, CommsState, UpsEvent, UpsState, compose_status, format_status,
    is_critical, parse_status, q1_variables, status_events,
)

ONLINE = parse_q1(b"(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r")


def with_flags(q1=ONLINE, **flags):
    return replace(q1, flags=replace(q1.flags, **flags))


def test_utility_fail_bit_means_on_battery_and_discharging():
    assert compose_status(with_flags(utility_fail=True)) == ("OB", "DISCHRG")


def test_no_utility_fail_means_on_line():
    assert compose_status(ONLINE) == ("OL",)


@pytest.mark.parametrize("flag, token", [("battery_low", "LB"), ("test_in_progress", "CAL"),
                                         ("shutdown_active", "FSD"), ("ups_failed", "ALARM")])
def test_status_bits_map_to_nut_tokens(flag, token):
    assert token in compose_status(with_flags(**{flag: True}))


@pytest.mark.parametrize("vin, vout, token", [(250.0, 220.0, "TRIM"), (220.0, 221.0, "BYPASS"),
                                              (190.0, 220.0, "BOOST"), (220.0, 100.0, None),
                                              (100.0, 220.0, None)])
def test_avr_bit_becomes_trim_bypass_or_boost_by_comparing_output_to_input(vin, vout, token):
    q1 = replace(with_flags(avr_active=True), input_voltage=vin, output_voltage=vout)
    got = set(compose_status(q1)) & {"TRIM", "BYPASS", "BOOST"}
    assert got == ({token} if token else set())


def test_charging_is_claimed_only_on_line_below_the_charged_threshold():
    assert "CHRG" in compose_status(ONLINE, charge_percent=60)
    assert "CHRG" not in compose_status(ONLINE, charge_percent=99)
    assert "CHRG" not in compose_status(ONLINE)  # unknown charge: do not claim
    assert "CHRG" not in compose_status(with_flags(utility_fail=True), charge_percent=60)


def test_overload_and_output_off_come_from_the_readings():
    assert "OVER" in compose_status(replace(ONLINE, load_percent=112))
    assert "OVER" not in compose_status(replace(ONLINE, load_percent=100))
    assert "OFF" in compose_status(replace(ONLINE, output_voltage=0.0))


def test_replace_battery_comes_only_from_outside():
    assert "RB" not in compose_status(ONLINE)
    assert "RB" in compose_status(ONLINE, replace_battery=True)


def test_tokens_are_written_in_nut_order_and_unknown_ones_kept():
    assert format_status({"LB", "OB", "DISCHRG", "XYZ"}) == "OB DISCHRG LB XYZ"


def test_reading_status_tolerates_unknown_tokens_and_spacing():
    assert parse_status("  OL  CHRG WAIT NEWTHING ") == {"OL", "CHRG", "WAIT", "NEWTHING"}


def test_q1_variables_use_nut_names_and_label_estimates():
    est = BatteryEstimate(80.0, 1200)
    v = q1_variables(ONLINE, est, Q1Rating(220.0, 3, 24.0, 50.0), Q1Info("ACME", "X1", "1.0"))
    assert v["input.voltage"] == "226.0" and v["ups.load"] == "14" and v["battery.voltage"] == "27.50"
    assert v["ups.status"] == "OL CHRG" and v["battery.charge"] == "80"
    assert v["battery.runtime"] == "1200" and v["battery.charge.estimated"] == "yes"
    assert v["device.mfr"] == "ACME" and v["input.voltage.nominal"] == "220.0"
    assert v["ups.type"] == "offline / line interactive" and v["ups.beeper.status"] == "disabled"


def test_q1_variables_leave_out_what_was_not_read():
    v = q1_variables(replace(ONLINE, temperature_c=None))
    assert "ups.temperature" not in v and "battery.charge" not in v and "battery.runtime" not in v


# --- events -------------------------------------------------------------------

@pytest.mark.parametrize("before, after, events", [
    ({"OL"}, {"OB", "DISCHRG"}, (UpsEvent.ONBATT,)),
    ({"OB"}, {"OL", "CHRG"}, (UpsEvent.ONLINE,)),
    ({"OB"}, {"OB", "LB"}, (UpsEvent.LOWBATT,)),
    ({"OL"}, {"OB", "LB"}, (UpsEvent.ONBATT, UpsEvent.LOWBATT)),
    ({"OB", "LB"}, {"OB", "LB", "FSD"}, (UpsEvent.FSD,)),
    ({"OL"}, {"OL", "RB"}, (UpsEvent.REPLBATT,)),
    ({"OL"}, {"OL", "CHRG"}, ()),
    ({"OB", "LB"}, {"OB"}, ()),
    (None, {"OL"}, ()),
    (None, {"OB", "LB"}, (UpsEvent.ONBATT, UpsEvent.LOWBATT)),
])
def test_status_changes_raise_upsmon_events(before, after, events):
    before = None if before is None else frozenset(before)
    assert status_events(before, frozenset(after)) == events


@pytest.mark.parametrize("status, runtime, comms_lost, critical", [
    ({"OB", "LB"}, None, False, True),
    ({"OL", "LB"}, None, False, False),
    ({"OL", "FSD"}, None, False, True),
    ({"OB"}, 100, False, True),
    ({"OB"}, 400, False, False),
    ({"OB"}, None, False, False),
    ({"OB"}, None, True, True),
    ({"OL"}, None, True, False),
])
def test_critical_follows_upsmon_plus_a_runtime_floor(status, runtime, comms_lost, critical):
    ups = UpsState(frozenset(status), runtime_s=runtime, comms_lost=comms_lost)
    assert is_critical(ups, runtime_low_s=300) is critical


# --- communication health ------------------------------------------------------

CFG = CommsConfig(commbad_after=3, nocomm_after=6)


def run(health, outcomes):
    events = []
    for ok in outcomes:
        health, ev = health.good() if ok else health.bad("no-cr", CFG)
        events += ev
    return health, events


def test_commbad_after_the_threshold_of_consecutive_failures_only():
    health, events = run(CommsHealth(), [True, False, False])
    assert health.state is CommsState.OK and events == []
    health, events = run(health, [False])
    assert health.state is CommsState.COMMBAD and events == [UpsEvent.COMMBAD]


def test_a_good_reading_between_failures_resets_the_count():
    health, events = run(CommsHealth(), [True, False, False, True, False, False])
    assert health.state is CommsState.OK and events == [] and health.total_failures == 4


def test_nocomm_after_the_longer_threshold_then_commok_on_recovery():
    health, events = run(CommsHealth(), [True] + [False] * 8 + [True])
    assert events == [UpsEvent.COMMBAD, UpsEvent.NOCOMM, UpsEvent.COMMOK]
    assert health.state is CommsState.OK and health.consecutive_failures == 0


def test_first_good_reading_after_start_is_not_a_recovery():
    health, events = run(CommsHealth(), [False, True])
    assert events == [] and health.data_ok


def test_data_is_stale_until_the_first_good_reading_and_while_bad():
    assert not CommsHealth().data_ok
    health, _ = run(CommsHealth(), [True, False, False, False])
    assert not health.data_ok and health.last_fault == "no-cr"


def test_nonsense_thresholds_are_refused():
    with pytest.raises(ValueError):
        CommsConfig(commbad_after=5, nocomm_after=5)


def test_flags_default_to_a_quiet_standby_unit():
    assert Q1Flags().to_bits() == "00001000"
