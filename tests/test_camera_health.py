"""Camera health end to end: synthetic keyframes and packet timing through
`CameraHealth`, with simulated monotonic time (a keyframe every 2 s, a
check every second, packets at the camera's frame rate)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from cameras import scenes
from cameras.health import (
    DEFAULT_PERSISTENCE,
    CameraHealth,
    Change,
    HealthConfig,
    Persistence,
    SceneBaseline,
    Verdict,
    prepare_frame,
)

COOLDOWN = DEFAULT_PERSISTENCE[Verdict.BLACK].cooldown_s


@functools.cache
def scene() -> np.ndarray:
    return scenes.street(1)


def sky(shape: tuple[int, int]) -> np.ndarray:
    """An empty sky: a smooth vertical gradient, no edges at all."""
    column = np.linspace(150, 220, shape[0], dtype=np.float32)[:, None]
    return np.repeat(column, shape[1], axis=1).astype(np.uint8)


PICTURES = {
    "normal": lambda s: s,
    "covered": lambda s: scenes.flat(s.shape, 6, noise=4),
    "white": lambda s: scenes.flat(s.shape, 255, noise=2),
    "blurred": lambda s: scenes.blurred(s, 6),
    "shifted": lambda s: scenes.shifted(s, 0.05),
    "rotated": lambda s: scenes.rotated(s, 5),
    "occluded": lambda s: scenes.occluded(s, 0.4),
    "dusk": lambda s: scenes.darker(s, 0.3, 10),
    "night-lamps": lambda s: scenes.with_lights(scenes.darker(s, 0.2), 3),
    "night-dim": lambda s: scenes.darker(s, 0.15),
    "night-pitch": lambda s: scenes.darker(s, 0.03, 4),
    "sky": lambda s: sky(s.shape),
}


@functools.cache
def live(picture: str, count: int = 4) -> tuple[np.ndarray, ...]:
    """A few prepared keyframes of a live camera showing `picture` (fresh noise each)."""
    shown = PICTURES[picture](scene())
    noise = 6.0 if picture.startswith("night") or picture == "covered" else 3.0
    return tuple(prepare_frame(scenes.live(shown, seed, noise=noise)) for seed in range(count))


@functools.cache
def frozen(picture: str = "normal") -> tuple[np.ndarray, ...]:
    """A frozen camera: the very same keyframe again and again."""
    return live(picture)[:1]


@functools.cache
def frozen_with_clock() -> tuple[np.ndarray, ...]:
    """A frozen picture under a live on-screen clock."""
    still = scenes.live(scene(), 99)
    return tuple(prepare_frame(scenes.with_clock(still, tick)) for tick in range(0, 40, 2))


class Rig:
    """One camera under test, driven second by second in simulated time.

    The camera sends 5 frames a second unless told otherwise: the packet
    rate only matters to the stream verdicts, and fewer packets keep the
    hour-long tests fast.
    """

    def __init__(self, *, expected_fps: float | None = 5.0, config=None, baseline=None) -> None:
        self.now = 0.0
        self.health = CameraHealth(
            "cam-1", started_at=0.0, expected_fps=expected_fps, config=config, baseline=baseline
        )
        self.events = []
        self._keyframes = 0
        self._packet_debt = 0.0

    def run(self, seconds: float, frames=None, *, fps: float = 5.0, connected: bool = True) -> list:
        """Stream for `seconds`; a keyframe every 2 s from `frames` (None: no
        picture decoded); return the events of this stretch."""
        before = len(self.events)
        for _ in range(round(seconds)):
            start, self.now = self.now, self.now + 1.0
            self._packet_debt += fps
            sent = int(self._packet_debt)
            self._packet_debt -= sent
            for k in range(sent):
                self.health.on_packet(start + (k + 1) / sent)
            if frames and sent and round(self.now) % 2 == 0:
                frame = frames[self._keyframes % len(frames)]
                self._keyframes += 1
                self.events += self.health.on_keyframe(frame, self.now)
            self.events += self.health.check(self.now, connected=connected)
        return self.events[before:]

    def learned(self) -> Rig:
        """Run a healthy camera long enough to learn its scene."""
        self.run(20, live("normal"))
        assert self.health.baseline is not None
        return self

    def changes(self, verdict: Verdict, events=None) -> list[tuple[Change, float]]:
        events = self.events if events is None else events
        return [(e.change, e.at) for e in events if e.verdict is verdict]


def raised_and_cleared(rig: Rig, verdict: Verdict, bad, good, *, bad_for=120, good_for=None):
    """Show `bad` (the verdict must be raised), then `good` past the cooldown
    (it must clear); return the events of both stretches."""
    went_bad = rig.run(bad_for, bad)
    assert [c for c, _ in rig.changes(verdict, went_bad)] == [Change.RAISED]
    assert verdict in rig.health.active
    came_back = rig.run(good_for or COOLDOWN + 60, good)
    assert [c for c, _ in rig.changes(verdict, came_back)] == [Change.CLEARED]
    assert verdict not in rig.health.active
    return went_bad, came_back


# --- a healthy camera --------------------------------------------------------


def test_a_healthy_live_camera_raises_nothing_in_an_hour():
    rig = Rig()
    assert rig.run(3600, live("normal")) == []
    assert rig.health.verdict is Verdict.OK


def test_the_scene_baseline_is_learned_from_the_first_good_keyframes_only():
    rig = Rig()
    rig.run(30, live("covered"))
    assert rig.health.baseline is None
    rig.run(8, live("normal"))
    assert rig.health.baseline is None  # 4 keyframes; 5 are needed
    rig.run(2, live("normal"))
    assert rig.health.baseline is not None


def test_a_changing_light_through_the_evening_raises_nothing():
    rig = Rig().learned()
    for gain in np.linspace(1.0, 0.3, 8):
        lit = scenes.darker(scene(), gain)
        frames = tuple(prepare_frame(scenes.live(lit, s)) for s in range(2))
        assert rig.run(150, frames) == []


# --- black -------------------------------------------------------------------


def test_covered_lens_raises_black_and_uncovering_clears_it():
    rig = Rig().learned()
    went_bad, _ = raised_and_cleared(rig, Verdict.BLACK, live("covered"), live("normal"))
    assert went_bad[0].text_uk.startswith("Чорне зображення") and went_bad[0].value < 20


def test_black_is_raised_after_six_seconds_not_on_the_first_black_keyframe():
    rig = Rig().learned()
    assert rig.run(4, live("covered")) == []
    events = rig.run(4, live("covered"))
    assert rig.changes(Verdict.BLACK, events) == [(Change.RAISED, 28.0)]


def test_a_single_black_keyframe_between_good_ones_raises_nothing():
    rig = Rig().learned()
    frames = live("normal")[:3] + live("covered")[:1]
    assert rig.run(600, frames) == []


def test_a_covered_lens_is_only_black_not_also_frozen_moved_or_blurred():
    rig = Rig().learned()
    rig.run(600, frozen("covered"))
    assert rig.health.active == {Verdict.BLACK}


@pytest.mark.parametrize("picture", ["night-lamps", "night-dim", "dusk"])
def test_a_dark_noisy_night_scene_with_visible_structure_is_not_black(picture):
    # Black needs mean < 20 AND std < 5: a lamp, a lit window or a faintly
    # visible street lifts the spread above 5 however dark the mean.
    rig = Rig().learned()
    rig.run(300, live(picture))
    assert Verdict.BLACK not in rig.health.active
    m = rig.health.last_frame
    assert m.mean < 50 and m.std >= 5


def test_a_night_scene_that_shows_nothing_but_sensor_noise_is_black():
    # Without light the camera shows nothing, whether the lens is covered or
    # the IR lamp is broken; either way the technician must know.
    rig = Rig().learned()
    rig.run(60, live("night-pitch"))
    assert Verdict.BLACK in rig.health.active


# --- over-exposed ------------------------------------------------------------


def test_a_white_picture_raises_overexposed_and_a_normal_one_clears_it():
    rig = Rig().learned()
    raised_and_cleared(rig, Verdict.OVEREXPOSED, live("white"), live("normal"))
    assert rig.health.active == frozenset()


# --- frozen ------------------------------------------------------------------


def test_identical_keyframes_raise_frozen_after_twenty_seconds_and_live_ones_clear_it():
    rig = Rig().learned()
    went_bad, _ = raised_and_cleared(rig, Verdict.FROZEN, frozen(), live("normal"))
    (change, at), = rig.changes(Verdict.FROZEN, went_bad)
    # Learned until 20 s; first identical pair at 24 s; raised 20 s later.
    assert at == 44.0


def test_a_frozen_picture_under_a_ticking_on_screen_clock_is_still_frozen():
    rig = Rig().learned()
    rig.run(60, frozen_with_clock())
    assert Verdict.FROZEN in rig.health.active


def test_a_static_but_live_scene_is_never_frozen():
    rig = Rig().learned()
    rig.run(600, live("normal", count=2))
    assert Verdict.FROZEN not in rig.health.active
    assert rig.health.last_frame.changed_fraction > 0.5


def test_a_reader_that_reuses_one_frame_buffer_is_not_mistaken_for_frozen():
    rig = Rig().learned()
    buffer = np.empty_like(live("normal")[0])
    for i in range(60):
        buffer[:] = live("normal")[i % 4]
        rig.health.on_keyframe(buffer, rig.now + 2.0 * (i + 1))
    assert Verdict.FROZEN not in rig.health.active


def test_a_quiet_clean_live_scene_is_not_frozen():
    quiet = tuple(
        prepare_frame(scenes.live(scene(), seed, noise=0.5, jpeg_quality=30)) for seed in range(3)
    )
    rig = Rig()
    rig.run(600, quiet)
    assert Verdict.FROZEN not in rig.health.active


# --- blurred -----------------------------------------------------------------


def test_a_defocused_lens_raises_blurred_and_refocusing_clears_it():
    rig = Rig().learned()
    went_bad, _ = raised_and_cleared(rig, Verdict.BLURRED, live("blurred"), live("normal"))
    assert went_bad[0].value < 0.15
    assert rig.health.active == frozenset()


def test_blur_is_judged_against_the_cameras_own_baseline_not_an_absolute():
    # A soft camera (cheap lens) learns its softness as normal ...
    rig = Rig()
    rig.run(300, live("blurred"))
    assert Verdict.BLURRED not in rig.health.active
    # ... and a sharp one raises on the same picture.
    sharp = Rig().learned()
    sharp.run(120, live("blurred"))
    assert Verdict.BLURRED in sharp.health.active


def test_a_blurred_picture_is_not_learned_as_normal_however_long_it_lasts():
    rig = Rig().learned()
    rig.run(1200, live("blurred"))
    assert Verdict.BLURRED in rig.health.active


# --- moved / occluded --------------------------------------------------------


@pytest.mark.parametrize("picture", ["shifted", "rotated", "occluded"])
def test_a_moved_or_blocked_view_raises_moved_and_restoring_it_clears(picture):
    rig = Rig().learned()
    went_bad, _ = raised_and_cleared(rig, Verdict.MOVED, live(picture), live("normal"))
    assert went_bad[0].value < 0.75
    assert rig.health.active == frozenset()


def test_a_camera_turned_to_the_empty_sky_is_moved_not_blurred():
    # The sky has no edges, so its sharpness is low; but it is another view,
    # and the lens is fine.
    rig = Rig().learned()
    rig.run(300, live("sky"))
    assert rig.health.active == {Verdict.MOVED}


def test_moved_waits_a_minute_so_a_passing_van_raises_nothing():
    rig = Rig().learned()
    assert rig.run(50, live("occluded")) == []
    assert rig.run(60, live("normal")) == []


def test_a_moved_camera_is_not_learned_as_normal_however_long_it_stays():
    rig = Rig().learned()
    rig.run(1200, live("shifted"))
    assert Verdict.MOVED in rig.health.active


def test_a_stored_baseline_keeps_a_camera_moved_while_the_relay_restarted():
    before = Rig().learned()
    learned = before.health.baseline
    stored = SceneBaseline(learned.sharpness, learned.signature.copy())
    after_restart = Rig(baseline=stored)
    after_restart.run(120, live("shifted"))
    assert Verdict.MOVED in after_restart.health.active


def test_rebaseline_accepts_a_deliberately_reaimed_view():
    rig = Rig().learned()
    rig.run(120, live("shifted"))
    assert Verdict.MOVED in rig.health.active
    rig.health.rebaseline()
    rig.run(COOLDOWN + 60, live("shifted"))
    assert rig.health.active == frozenset()


def test_a_new_stream_resolution_relearns_the_scene_instead_of_raising_moved():
    rig = Rig().learned()
    wider = tuple(prepare_frame(scenes.live(scenes.street(1, 1280, 960), s)) for s in range(3))
    rig.run(300, wider)
    assert rig.health.active == frozenset()
    assert rig.health.baseline.signature.shape != (45, 80)


# --- offline, stalled, low frame rate ----------------------------------------


def test_a_hung_camera_connected_but_silent_is_offline_within_ten_seconds():
    rig = Rig().learned()
    events = rig.run(10, None, fps=0)
    assert rig.changes(Verdict.OFFLINE, events) == [(Change.RAISED, 30.0)]
    assert rig.health.verdict is Verdict.OFFLINE


def test_the_moment_a_silent_camera_turns_offline_is_known_ahead_so_it_is_reported_on_time():
    rig = Rig().learned()  # the last packet came at 20.0
    assert rig.health.offline_due() == 20.0 + HealthConfig().offline_after_s
    assert rig.health.check(29.99, connected=True) == []
    events = rig.health.check(rig.health.offline_due(), connected=True)
    assert [(e.verdict, e.change) for e in events] == [(Verdict.OFFLINE, Change.RAISED)]
    assert rig.health.offline_due() == float("inf")  # nothing more to wait for until packets come back
    never = Rig()
    assert never.health.offline_due() == HealthConfig().offline_after_s  # counted from when watching started


def test_a_dropped_connection_is_offline_after_three_seconds():
    rig = Rig().learned()
    events = rig.run(5, None, fps=0, connected=False)
    assert rig.changes(Verdict.OFFLINE, events) == [(Change.RAISED, 23.0)]


def test_a_camera_that_never_came_up_is_offline():
    rig = Rig()
    rig.run(10, None, fps=0, connected=False)
    assert rig.health.verdict is Verdict.OFFLINE


def test_a_camera_that_comes_back_clears_offline_after_five_seconds_of_packets():
    rig = Rig().learned()
    rig.run(120, None, fps=0, connected=False)
    events = rig.run(10, live("normal"))
    assert rig.changes(Verdict.OFFLINE, events) == [(Change.CLEARED, 146.0)]
    assert rig.health.active == frozenset()


def test_an_offline_camera_is_only_offline_not_also_stalled_or_slow():
    rig = Rig().learned()
    rig.run(3600, None, fps=0, connected=False)
    assert rig.health.active == {Verdict.OFFLINE}


def test_offline_outranks_every_picture_verdict():
    rig = Rig().learned()
    rig.run(60, frozen())
    rig.run(20, None, fps=0)
    assert rig.health.active == {Verdict.FROZEN, Verdict.OFFLINE}
    assert rig.health.verdict is Verdict.OFFLINE


def test_recurring_stalls_raise_stalled_and_an_hour_without_stalls_clears_it():
    rig = Rig().learned()
    for _ in range(2):
        rig.run(60, live("normal"))
        rig.run(4, None, fps=0)  # a 4-second stall, too short for offline
    assert Verdict.STALLED not in rig.health.active
    rig.run(60, live("normal"))
    events = rig.run(4, None, fps=0)
    assert rig.changes(Verdict.STALLED, events)[0][0] is Change.RAISED
    rig.run(3600, live("normal"))
    assert Verdict.STALLED not in rig.health.active
    assert [c for c, _ in rig.changes(Verdict.STALLED)] == [Change.RAISED, Change.CLEARED]


def test_the_third_stop_in_an_hour_raises_stalled_even_when_it_turns_into_an_outage():
    rig = Rig().learned()
    for _ in range(2):
        rig.run(60, live("normal"))
        rig.run(4, None, fps=0)
    rig.run(60, live("normal"))
    rig.run(30, None, fps=0)
    assert rig.health.active == {Verdict.STALLED, Verdict.OFFLINE}
    assert rig.health.verdict is Verdict.OFFLINE


def test_a_frame_rate_below_half_the_expected_raises_low_fps_and_normal_clears_it():
    rig = Rig(expected_fps=25).learned()
    rig.run(20, live("normal"), fps=25)
    went_bad = rig.run(60, live("normal"), fps=10)
    assert rig.changes(Verdict.LOW_FPS, went_bad)[0][0] is Change.RAISED
    assert went_bad[0].value == pytest.approx(10, abs=0.5)
    rig.run(COOLDOWN + 60, live("normal"), fps=25)
    assert rig.health.active == frozenset()


def test_a_frame_rate_in_the_hysteresis_band_neither_raises_nor_clears_low_fps():
    rig = Rig(expected_fps=25).learned()
    rig.run(20, live("normal"), fps=25)
    assert rig.run(600, live("normal"), fps=15) == []  # 60 %: between 50 % and 70 %
    rig.run(60, live("normal"), fps=10)
    assert Verdict.LOW_FPS in rig.health.active
    rig.run(COOLDOWN + 60, live("normal"), fps=15)
    assert Verdict.LOW_FPS in rig.health.active


def test_without_an_expected_frame_rate_low_fps_is_never_judged():
    rig = Rig(expected_fps=None).learned()
    assert rig.run(600, live("normal"), fps=1) == []


# --- alerts as people see them -----------------------------------------------


def test_a_flickering_light_does_not_storm_the_hub_with_alerts():
    rig = Rig().learned()
    # 10 s dark, 10 s lit, for an hour.
    for _ in range(180):
        rig.run(10, live("covered"))
        rig.run(10, live("normal"))
    raises = [at for change, at in rig.changes(Verdict.BLACK) if change is Change.RAISED]
    assert 1 <= len(raises) <= 3600 / COOLDOWN + 1


def test_events_name_the_camera_and_speak_ukrainian_first_and_english():
    rig = Rig().learned()
    rig.run(60, frozen())
    (event,) = rig.events
    assert event.camera_id == "cam-1"
    assert (event.verdict, event.change) == (Verdict.FROZEN, Change.RAISED)
    assert event.text_uk == "Зображення застигло: камера показує старий кадр"
    assert event.text_en == "Picture frozen: the camera shows an old frame"
    assert event.value == 0.0


def test_a_frame_that_is_not_prepared_is_refused_and_changes_nothing():
    rig = Rig().learned()
    baseline = rig.health.baseline
    with pytest.raises(ValueError, match="prepare_frame"):
        rig.health.on_keyframe(np.zeros((180, 320, 3), np.uint8), rig.now)
    assert rig.health.baseline is baseline and rig.health.active == frozenset()


def test_custom_persistence_applies_to_its_verdict_and_the_rest_keep_the_defaults():
    quick = {Verdict.FROZEN: Persistence(4.0, 2, 2.0, 1, cooldown_s=0.0)}
    config = HealthConfig(persistence=quick)
    assert config.persistence[Verdict.BLACK] == DEFAULT_PERSISTENCE[Verdict.BLACK]
    rig = Rig(config=config).learned()
    events = rig.run(10, frozen())
    assert rig.changes(Verdict.FROZEN, events) == [(Change.RAISED, 28.0)]


@pytest.mark.parametrize(
    "wrong",
    [
        dict(black_raise_mean=40),
        dict(overexposed_clear_mean=250),
        dict(frozen_raise_changed=0.1),
        dict(blur_raise_ratio=0.5),
        dict(moved_clear_similarity=0.7),
        dict(low_fps_raise_fraction=0.9),
        dict(stalled_clear_count=5),
        dict(persistence={Verdict.OK: Persistence(0, 1, 0, 1, cooldown_s=0)}),
    ],
)
def test_a_configuration_with_raise_and_clear_thresholds_the_wrong_way_round_is_refused(wrong):
    with pytest.raises(ValueError, match="camera health configuration"):
        HealthConfig(**wrong)
