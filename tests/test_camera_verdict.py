"""The verdict state machine: persistence, hysteresis and cooldown, on plain observations."""

import pytest

from cameras.verdict import (
    TEXTS,
    Change,
    Observation,
    Persistence,
    Track,
    Verdict,
    advance_track,
    make_event,
    most_severe,
)

BAD, GOOD, BAND, UNKNOWN = Observation.BAD, Observation.GOOD, Observation.BAND, Observation.UNKNOWN
RULE = Persistence(
    raise_after_s=6.0, raise_min_checks=3, clear_after_s=4.0, clear_min_checks=2, cooldown_s=0.0
)


def feed(observations, rule=RULE, track=None, start=0.0, every=2.0):
    """Feed observations every `every` seconds; return the final track and (time, change) pairs."""
    track = track or Track()
    changes = []
    for i, observation in enumerate(observations):
        at = start + i * every
        track, change = advance_track(track, observation, at, rule)
        if change is not None:
            changes.append((at, change))
    return track, changes


def test_a_single_bad_observation_does_not_raise():
    track, changes = feed([BAD, GOOD, GOOD])
    assert changes == [] and not track.active


def test_raise_needs_the_condition_to_hold_for_the_persistence_time():
    # Bad at 0, 2, 4, 6: raised at 6 s, the fourth observation.
    track, changes = feed([BAD] * 4)
    assert changes == [(6.0, Change.RAISED)] and track.active


def test_raise_needs_the_minimum_number_of_checks_not_only_the_time():
    # Two observations ten seconds apart hold for long enough but are too few.
    track, changes = feed([BAD, BAD], every=10.0)
    assert changes == []
    _, changes = feed([BAD], track=track, start=20.0)
    assert changes == [(20.0, Change.RAISED)]


def test_a_good_observation_restarts_the_raise_persistence():
    _, changes = feed([BAD, BAD, BAD, GOOD, BAD, BAD, BAD])
    assert changes == []


def test_clear_needs_the_clear_condition_to_hold_for_its_persistence_time():
    raised, _ = feed([BAD] * 4)
    _, changes = feed([GOOD, GOOD, GOOD], track=raised, start=10.0)
    assert changes == [(14.0, Change.CLEARED)]


def test_a_bad_observation_while_raised_restarts_the_clear_persistence():
    raised, _ = feed([BAD] * 4)
    track, changes = feed([GOOD, BAD, GOOD, BAD, GOOD], track=raised, start=10.0)
    assert changes == [] and track.active


def test_between_the_thresholds_nothing_is_raised_however_long_it_lasts():
    track, changes = feed([BAND] * 100)
    assert changes == [] and not track.active


def test_between_the_thresholds_nothing_is_cleared_however_long_it_lasts():
    raised, _ = feed([BAD] * 4)
    track, changes = feed([BAND] * 100, track=raised, start=10.0)
    assert changes == [] and track.active


def test_hysteresis_band_interrupts_a_run_so_hovering_at_the_raise_threshold_never_raises():
    _, changes = feed([BAD, BAND] * 20)
    assert changes == []


def test_unknown_keeps_a_raised_verdict_raised_and_breaks_the_run():
    raised, _ = feed([BAD] * 4)
    track, changes = feed([GOOD, UNKNOWN, GOOD, UNKNOWN, GOOD], track=raised, start=10.0)
    assert changes == [] and track.active


def test_cooldown_keeps_a_verdict_raised_for_at_least_the_cooldown():
    rule = Persistence(6.0, 3, 4.0, 2, cooldown_s=60.0)
    raised, _ = feed([BAD] * 4, rule=rule)  # raised at 6 s
    _, changes = feed([GOOD] * 40, rule=rule, track=raised, start=8.0)
    assert changes == [(66.0, Change.CLEARED)]


def test_a_flickering_condition_raises_at_most_once_per_cooldown():
    rule = Persistence(4.0, 2, 4.0, 2, cooldown_s=300.0)
    # Ten seconds bad, ten seconds good, for an hour, observed every 2 s.
    pattern = ([BAD] * 5 + [GOOD] * 5) * 180
    _, changes = feed(pattern, rule=rule)
    raises = [at for at, change in changes if change is Change.RAISED]
    assert 1 <= len(raises) <= 3600 / 300 + 1
    assert all(later - earlier >= 300 for earlier, later in zip(raises, raises[1:]))
    # Without the cooldown the same light would have raised 180 alerts.
    no_cooldown = Persistence(4.0, 2, 4.0, 2, cooldown_s=0.0)
    _, storm = feed(pattern, rule=no_cooldown)
    assert len([c for _, c in storm if c is Change.RAISED]) == 180


def test_cooldown_never_delays_a_raise():
    rule = Persistence(4.0, 2, 4.0, 2, cooldown_s=300.0)
    track, changes = feed([BAD] * 3 + [GOOD] * 200 + [BAD] * 3, rule=rule)
    assert [c for _, c in changes] == [Change.RAISED, Change.CLEARED, Change.RAISED]
    assert changes[-1][0] == (3 + 200 + 2) * 2.0


def test_an_immediate_rule_raises_on_the_first_bad_check():
    rule = Persistence(0.0, 1, 0.0, 1, cooldown_s=0.0)
    _, changes = feed([BAD, GOOD], rule=rule)
    assert changes == [(0.0, Change.RAISED), (2.0, Change.CLEARED)]


@pytest.mark.parametrize(
    "args",
    [
        (-1.0, 1, 0.0, 1, 0.0),
        (0.0, 0, 0.0, 1, 0.0),
        (0.0, 1, 0.0, 1, -5.0),
    ],
)
def test_persistence_refuses_negative_times_and_zero_checks(args):
    with pytest.raises(ValueError):
        Persistence(*args)


def test_overall_verdict_is_the_most_severe_raised_one():
    assert most_severe(frozenset()) is Verdict.OK
    assert most_severe({Verdict.BLURRED, Verdict.OFFLINE, Verdict.LOW_FPS}) is Verdict.OFFLINE
    assert most_severe({Verdict.BLURRED, Verdict.FROZEN}) is Verdict.FROZEN
    assert most_severe({Verdict.LOW_FPS, Verdict.MOVED}) is Verdict.MOVED


def test_every_verdict_has_ukrainian_and_english_text_for_raise_and_clear():
    for verdict in Verdict:
        if verdict is Verdict.OK:
            continue
        for change in Change:
            uk, en = TEXTS[(verdict, change)]
            assert uk and en and uk != en
            # Ukrainian text is written in Cyrillic.
            assert any("а" <= ch.lower() <= "я" or ch in "іїєґ" for ch in uk)


def test_an_event_carries_camera_verdict_change_time_value_and_both_texts():
    event = make_event("cam-7", Verdict.FROZEN, Change.RAISED, 42.0, 0.001)
    assert (event.camera_id, event.verdict, event.change, event.at, event.value) == (
        "cam-7",
        Verdict.FROZEN,
        Change.RAISED,
        42.0,
        0.001,
    )
    assert event.text_uk.startswith("Зображення застигло")
    assert event.text_en.startswith("Picture frozen")
    assert str(event.verdict) == "frozen" and str(event.change) == "raised"
