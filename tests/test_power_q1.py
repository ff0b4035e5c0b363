"""Megatec Q1: strict parsing, exact formatting, commands, battery estimates."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from power.q1 import (
    BatteryCalibration, Q1Command, Q1Error, Q1Fault, Q1Flags, Q1Info, Q1Rating, Q1Request,
    Q1Status, decode_command, encode, encode_shutdown, encode_test_minutes, estimate_battery,
    format_info, format_q1, format_rating, parse_info, parse_q1, parse_rating,
)

REFERENCE_Q1 = b"(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r"


def test_reference_q1_reply_parses_to_its_fields():
    s = parse_q1(REFERENCE_Q1)
    assert (s.input_voltage, s.input_fault_voltage, s.output_voltage) == (226.0, 195.0, 226.0)
    assert (s.load_percent, s.frequency_hz, s.battery_voltage, s.temperature_c) == (14, 49.0, 27.5, 30.0)
    assert s.flags == Q1Flags(standby_type=True)


def test_status_bits_are_read_b7_first():
    s = parse_q1(REFERENCE_Q1[:38] + b"11000111\r")
    assert s.flags.utility_fail and s.flags.battery_low
    assert not s.flags.avr_active and not s.flags.ups_failed and not s.flags.standby_type
    assert s.flags.test_in_progress and s.flags.shutdown_active and s.flags.beeper_on


def test_per_cell_battery_voltage_of_online_units_is_accepted():
    assert parse_q1(REFERENCE_Q1.replace(b"27.5", b"2.27")).battery_voltage == 2.27


def test_negative_temperature_is_accepted():
    assert parse_q1(REFERENCE_Q1.replace(b"30.0", b"-5.0")).temperature_c == -5.0


@pytest.mark.parametrize("reply, fault", [
    (b"", Q1Fault.EMPTY),
    (b"Q1\r", Q1Fault.ECHO),
    (b"q1\r", Q1Fault.ECHO),
    (REFERENCE_Q1[1:], Q1Fault.NO_START),
    (b"#" + REFERENCE_Q1[1:], Q1Fault.NO_START),
    (REFERENCE_Q1[:-1], Q1Fault.NO_CR),
    (REFERENCE_Q1[:-1] + b"\n", Q1Fault.NO_CR),
    (REFERENCE_Q1[:-2] + b"\r", Q1Fault.LENGTH),
    (REFERENCE_Q1[:-1] + b"0\r", Q1Fault.LENGTH),
    (REFERENCE_Q1 + REFERENCE_Q1, Q1Fault.LENGTH),
    (REFERENCE_Q1.replace(b"226.0 195.0", b"226.0_195.0"), Q1Fault.SEPARATOR),
    (REFERENCE_Q1.replace(b"195.0", b"19x.0"), Q1Fault.FIELD_INVALID),
    (REFERENCE_Q1.replace(b"195.0", b"19500"), Q1Fault.FIELD_INVALID),
    (REFERENCE_Q1.replace(b" 014 ", b" 1.4 "), Q1Fault.FIELD_INVALID),
    (REFERENCE_Q1.replace(b"49.0", b"-9.0"), Q1Fault.FIELD_INVALID),
    (REFERENCE_Q1.replace(b"00001000", b"00002000"), Q1Fault.FIELD_INVALID),
    (REFERENCE_Q1.replace(b"30.0", b"@@.@"), Q1Fault.FIELD_MISSING),
    (REFERENCE_Q1.replace(b"226.0 195", b"@@@.@ 195"), Q1Fault.FIELD_MISSING),
    (REFERENCE_Q1.replace(b"49.0", b"4\xe9.0"), Q1Fault.NOT_ASCII),
    (REFERENCE_Q1.replace(b"49.0", b"4\x009.0"[:4]), Q1Fault.FIELD_INVALID),
])
def test_garbled_q1_reply_is_refused_with_the_reason(reply, fault):
    with pytest.raises(Q1Error) as err:
        parse_q1(reply)
    assert err.value.fault is fault


def test_missing_field_error_names_the_field():
    with pytest.raises(Q1Error) as err:
        parse_q1(REFERENCE_Q1.replace(b"30.0", b"@@.@"))
    assert err.value.field == "temperature_c"


def test_a_field_the_unit_never_fills_may_be_allowed_and_becomes_none_not_a_guess():
    s = parse_q1(REFERENCE_Q1.replace(b"30.0", b"@@.@"), allow_missing=frozenset({"temperature_c"}))
    assert s.temperature_c is None and s.battery_voltage == 27.5


def test_allowing_one_missing_field_does_not_allow_others():
    with pytest.raises(Q1Error):
        parse_q1(REFERENCE_Q1.replace(b"27.5", b"@@.@"), allow_missing=frozenset({"temperature_c"}))


def test_reference_rating_and_info_replies_parse():
    assert parse_rating(b"#220.0 000 024.0 50.0\r") == Q1Rating(220.0, 0, 24.0, 50.0)
    info = parse_info(b"#MEGATEC         PRO 1000   V1.0      \r")
    assert info == Q1Info("MEGATEC", "PRO 1000", "V1.0")


@pytest.mark.parametrize("reply", [b"F\r", b"#220.0 000 024.0 50.0", b"(220.0 000 024.0 50.0\r",
                                   b"#220.0 000 024.0 5x.0\r", b"#220.0 000 024.0  50.0\r"])
def test_garbled_rating_reply_is_refused(reply):
    with pytest.raises(Q1Error):
        parse_rating(reply)


@pytest.mark.parametrize("reply", [b"I\r", b"#MEGATEC\r", b"#MEGATEC         PRO 1000   V1.0     \r",
                                   b"#MEGATEC        XPRO 1000   V1.0      \r"])
def test_garbled_info_reply_is_refused(reply):
    with pytest.raises(Q1Error):
        parse_info(reply)


def test_formatting_the_parsed_reference_gives_the_same_bytes():
    assert format_q1(parse_q1(REFERENCE_Q1)) == REFERENCE_Q1
    assert len(REFERENCE_Q1) == 47


def test_formatter_refuses_values_that_do_not_fit_rather_than_sending_garbage():
    s = parse_q1(REFERENCE_Q1)
    from dataclasses import replace
    with pytest.raises(ValueError):
        format_q1(replace(s, load_percent=1000))
    with pytest.raises(ValueError):
        format_q1(replace(s, input_voltage=-1.0))
    with pytest.raises(ValueError):
        format_info(Q1Info("A" * 16, "m", "v"))
    with pytest.raises(ValueError):
        format_info(Q1Info("Ятрань", "m", "v"))


# --- property tests ---------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_never_crash_the_parsers_only_raise_q1error(data):
    for parse in (parse_q1, parse_rating, parse_info, decode_command):
        try:
            parse(data)
        except Q1Error:
            pass


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 46), st.integers(0, 255))
def test_any_single_byte_change_in_a_reply_is_refused_or_read_exactly(pos, byte):
    data = bytearray(REFERENCE_Q1)
    data[pos] = byte
    try:
        s = parse_q1(bytes(data))
    except Q1Error:
        return
    assert format_q1(s) == bytes(data)  # accepted only if it means exactly what it says


def tenths(lo, hi):
    return st.integers(lo, hi).map(lambda n: n / 10)


q1_status = st.builds(
    Q1Status,
    input_voltage=tenths(0, 9999) | st.none(), input_fault_voltage=tenths(0, 9999),
    output_voltage=tenths(0, 9999), load_percent=st.integers(0, 999) | st.none(),
    frequency_hz=tenths(0, 999),
    battery_voltage=tenths(100, 999) | st.integers(0, 999).map(lambda n: n / 100),
    temperature_c=tenths(-99, 999) | st.none(),
    flags=st.builds(Q1Flags, *[st.booleans()] * 8),
)


@settings(max_examples=300, deadline=None)
@given(q1_status)
def test_q1_format_then_parse_gives_the_same_state(status):
    everything = frozenset(Q1Status.__slots__)
    assert parse_q1(format_q1(status), allow_missing=everything) == status


@settings(max_examples=200, deadline=None)
@given(st.builds(Q1Rating, tenths(0, 9999), st.integers(0, 999),
                 tenths(0, 9999) | st.integers(0, 9999).map(lambda n: n / 100), tenths(0, 999)))
def test_rating_format_then_parse_gives_the_same_rating(rating):
    assert parse_rating(format_rating(rating)) == rating


trimmed = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10).map(str.strip)


@settings(max_examples=200, deadline=None)
@given(st.builds(Q1Info, trimmed, trimmed, trimmed))
def test_info_format_then_parse_gives_the_same_info(info):
    assert parse_info(format_info(info)) == info


# --- commands ---------------------------------------------------------------

def test_fixed_commands_are_their_text_and_cr():
    assert [encode(c) for c in Q1Command] == [b"Q1\r", b"F\r", b"I\r", b"T\r", b"TL\r", b"CT\r",
                                              b"C\r", b"Q\r"]


def test_battery_test_minutes_are_two_digits_within_1_to_99():
    assert encode_test_minutes(5) == b"T05\r"
    for bad in (0, 100):
        with pytest.raises(ValueError):
            encode_test_minutes(bad)


@pytest.mark.parametrize("delay_s, restore, wire", [
    (12, None, b"S.2\r"), (54, None, b"S.9\r"), (60, None, b"S01\r"), (600, None, b"S10\r"),
    (60, 3, b"S01R0003\r"), (30, 9999, b"S.5R9999\r"), (120, 0, b"S02R0000\r"),
])
def test_shutdown_delay_is_encoded_in_the_units_tenths_or_minutes(delay_s, restore, wire):
    assert encode_shutdown(delay_s, restore) == wire
    assert decode_command(wire) == Q1Request("S", delay_s=delay_s, restore_after_min=restore)


@pytest.mark.parametrize("delay_s", [0, 6, 13, 59, 90, 660])
def test_shutdown_delay_the_unit_cannot_express_is_refused_not_rounded(delay_s):
    with pytest.raises(ValueError):
        encode_shutdown(delay_s)


def test_decode_command_recognises_what_a_simulator_must_answer():
    assert decode_command(b"Q1\r") == Q1Request("Q1")
    assert decode_command(b"T07\r") == Q1Request("Tn", minutes=7)
    for bad in (b"Q1", b"X\r", b"T00\r", b"S11\r", b"S.1\r", b"S01R12\r"):
        with pytest.raises(Q1Error):
            decode_command(bad)


# --- battery estimate -------------------------------------------------------

CAL = BatteryCalibration(cells=12, runtime_full_load_s=600, exponent=1.0)


def test_estimate_is_labelled_as_an_estimate():
    assert estimate_battery(CAL, 27.0, 50, on_battery=False).estimated is True


def test_charge_is_linear_between_empty_and_full_cell_voltage():
    assert estimate_battery(CAL, 12 * 2.25, 0, False).charge_percent == 100.0
    assert estimate_battery(CAL, 12 * 1.75, 0, False).charge_percent == 0.0
    assert estimate_battery(CAL, 12 * 2.00, 0, False).charge_percent == 50.0


def test_charge_is_clamped_to_0_and_100():
    assert estimate_battery(CAL, 28.0, 0, False).charge_percent == 100.0
    assert estimate_battery(CAL, 20.0, 0, False).charge_percent == 0.0


def test_per_cell_reading_is_told_apart_by_its_magnitude():
    assert estimate_battery(CAL, 2.00, 0, False).charge_percent == 50.0


def test_voltage_impossible_for_the_configured_battery_gives_no_estimate():
    assert estimate_battery(CAL, 48.0, 10, False) is None  # 4 V per cell: wrong cell count
    assert estimate_battery(CAL, 5.0, 10, False) is None


def test_runtime_shrinks_with_load_by_the_calibrated_exponent():
    cal = BatteryCalibration(cells=12, runtime_full_load_s=600, exponent=1.2)
    full = estimate_battery(cal, 27.0, 100, True).runtime_s
    half = estimate_battery(cal, 27.0, 50, True).runtime_s
    assert full == 600 and half == round(600 * 2 ** 1.2)


def test_runtime_at_tiny_load_is_capped_by_the_idle_load():
    assert estimate_battery(CAL, 27.0, 0, True).runtime_s == estimate_battery(CAL, 27.0, 10, True).runtime_s


def test_runtimecal_two_points_reproduce_both_points_like_nut():
    cal = BatteryCalibration.from_runtimecal(12, 240, 100, 720, 50)
    assert estimate_battery(cal, 27.0, 100, True).runtime_s == 240
    assert estimate_battery(cal, 27.0, 50, True).runtime_s == 720


def test_without_runtime_calibration_runtime_is_unknown_not_invented():
    assert estimate_battery(BatteryCalibration(cells=6), 13.0, 30, True).runtime_s is None


def test_voltage_sag_under_load_is_added_back_on_battery_only():
    cal = BatteryCalibration(cells=12, sag_per_cell_full_load_v=0.1)
    assert estimate_battery(cal, 12 * 1.9, 100, True).charge_percent == 50.0
    assert estimate_battery(cal, 12 * 1.9, 100, False).charge_percent == 30.0


@pytest.mark.parametrize("kw", [dict(cells=0), dict(cells=6, cell_empty_v=2.3),
                                dict(cells=6, runtime_full_load_s=0), dict(cells=6, exponent=0)])
def test_nonsense_calibration_is_refused(kw):
    with pytest.raises(ValueError):
        BatteryCalibration(**kw)
