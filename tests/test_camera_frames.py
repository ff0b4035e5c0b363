"""Per-frame measures of camera health: preparing a keyframe, exposure,
sharpness, change between keyframes, and the scene signature."""

import functools

import cv2
import numpy as np
import pytest

from cameras import scenes
from cameras.frames import (
    BRIGHT_LEVEL,
    DARK_LEVEL,
    frame_change,
    measure_frame,
    prepare_frame,
    scene_signature,
    scene_similarity,
    sharpness,
)
from cameras.health import HealthConfig

DEFAULTS = HealthConfig()


@functools.cache
def scene() -> np.ndarray:
    return scenes.street(1)


def small(picture: np.ndarray, seed: int = 0) -> np.ndarray:
    """What the health check sees of a live camera showing `picture`."""
    return prepare_frame(scenes.live(picture, seed))


def similarity_to_scene(picture: np.ndarray) -> float:
    reference = scene_signature(small(scene(), seed=100))
    return scene_similarity(scene_signature(small(picture, seed=101)), reference)


# --- prepare_frame -----------------------------------------------------------


def test_prepare_frame_turns_a_1080p_bgr_picture_into_320_px_wide_gray():
    bgr = cv2.cvtColor(scenes.street(2, 1920, 1080), cv2.COLOR_GRAY2BGR)
    gray = prepare_frame(bgr)
    assert gray.shape == (180, 320)
    assert gray.dtype == np.uint8
    assert gray.flags.c_contiguous


def test_prepare_frame_gives_the_same_frame_from_bgr_bgra_gray_and_single_channel():
    picture = scene()
    bgr = cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(picture, cv2.COLOR_GRAY2BGRA)
    expected = prepare_frame(picture)
    for variant in (bgr, bgra, picture[:, :, None]):
        assert np.array_equal(prepare_frame(variant), expected)


def test_prepare_frame_never_enlarges_a_small_picture():
    tiny = scenes.street(3, 176, 144)
    assert prepare_frame(tiny).shape == (144, 176)


def test_prepare_frame_honours_a_chosen_width_and_keeps_the_aspect_ratio():
    assert prepare_frame(scenes.street(2, 1280, 960), width=160).shape == (120, 160)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((720, 1280), np.float32),
        np.zeros((720, 1280, 2), np.uint8),
        np.zeros((720, 1280, 3, 1), np.uint8),
        np.zeros((8, 1280), np.uint8),
        [[0, 1], [2, 3]],
    ],
    ids=["float", "two-channel", "four-dimensional", "too-small", "not-an-array"],
)
def test_prepare_frame_refuses_what_is_not_an_8_bit_picture_with_a_reason(bad):
    with pytest.raises(ValueError, match="expected|too small"):
        prepare_frame(bad)


# --- exposure ----------------------------------------------------------------


def test_black_frame_measures_zero_brightness_no_contrast_all_dark():
    m = measure_frame(np.zeros((180, 320), np.uint8))
    assert (m.mean, m.std, m.dark_fraction, m.bright_fraction) == (0.0, 0.0, 1.0, 0.0)
    assert m.sharpness == 0.0


def test_white_frame_measures_full_brightness_all_bright():
    m = measure_frame(np.full((180, 320), 255, np.uint8))
    assert (m.mean, m.std, m.dark_fraction, m.bright_fraction) == (255.0, 0.0, 0.0, 1.0)


def test_horizontal_gradient_measures_mid_brightness_and_wide_spread():
    gradient = np.tile(np.linspace(0, 255, 320).astype(np.uint8), (180, 1))
    m = measure_frame(gradient)
    assert m.mean == pytest.approx(127.5, abs=0.5)
    assert m.std == pytest.approx(255 / np.sqrt(12), rel=0.02)
    # Levels 0..DARK_LEVEL and BRIGHT_LEVEL..255 of an even ramp.
    assert m.dark_fraction == pytest.approx((DARK_LEVEL + 1) / 256, abs=0.005)
    assert m.bright_fraction == pytest.approx((256 - BRIGHT_LEVEL) / 256, abs=0.005)


# --- sharpness ---------------------------------------------------------------


def test_defocus_lowers_sharpness_the_more_the_stronger():
    values = [measure_frame(small(scenes.blurred(scene(), s))).sharpness for s in (0.01, 2, 4, 8)]
    assert values == sorted(values, reverse=True)
    assert values[-1] < 0.1 * values[0]


def test_sharpness_does_not_fall_at_dusk_although_raw_laplacian_variance_does():
    # Why sharpness is normalised by the picture's own variance: at a third
    # of the light the raw figure looks like a defocused lens.
    day = small(scene())
    dusk = small(scenes.darker(scene(), 0.3))
    day_raw, day_sharpness = sharpness(day)
    dusk_raw, dusk_sharpness = sharpness(dusk)
    assert dusk_raw < 0.2 * day_raw
    assert dusk_sharpness > 0.8 * day_sharpness


# --- change between keyframes ------------------------------------------------


def test_identical_keyframes_change_no_pixel():
    frame = small(scene())
    assert frame_change(frame, frame.copy()) == (0.0, 0.0)


def test_a_static_but_live_scene_changes_most_pixels_between_keyframes():
    changed, mean_diff = frame_change(small(scene(), 1), small(scene(), 2))
    assert changed > 0.5
    # ... although its mean difference is far below the "< 2" full-size rule of thumb.
    assert mean_diff < 2


def test_a_quiet_clean_heavily_compressed_live_scene_still_changes_more_than_frozen_clears():
    a = prepare_frame(scenes.live(scene(), 1, noise=0.5, jpeg_quality=30))
    b = prepare_frame(scenes.live(scene(), 2, noise=0.5, jpeg_quality=30))
    changed, _ = frame_change(a, b)
    assert changed > DEFAULTS.frozen_clear_changed


def test_a_frozen_picture_with_a_ticking_on_screen_clock_changes_almost_no_pixel():
    still = scenes.live(scene(), 3)
    changed, _ = frame_change(
        prepare_frame(scenes.with_clock(still, 1)), prepare_frame(scenes.with_clock(still, 2))
    )
    assert 0 < changed < DEFAULTS.frozen_raise_changed


def test_frames_of_different_size_are_not_compared():
    assert frame_change(np.zeros((180, 320), np.uint8), np.zeros((240, 320), np.uint8)) is None
    measures = measure_frame(np.zeros((180, 320), np.uint8), np.zeros((240, 320), np.uint8))
    assert measures.changed_fraction is None


# --- scene signature ---------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s,
        lambda s: scenes.darker(s, 0.3, 10),
        lambda s: scenes.darker(s, 0.5),
        lambda s: scenes.darker(s, 1.0, 40),
        lambda s: scenes.shifted(s, 0.002),
    ],
    ids=["fresh-noise", "night", "half-light", "brighter", "sub-pixel-sway"],
)
def test_the_same_view_under_other_light_or_noise_stays_similar(change):
    assert similarity_to_scene(change(scene())) >= DEFAULTS.moved_clear_similarity


def test_a_defocused_lens_does_not_look_like_a_moved_camera():
    assert similarity_to_scene(scenes.blurred(scene(), 8)) >= DEFAULTS.moved_clear_similarity


@pytest.mark.parametrize(
    "change",
    [
        lambda s: scenes.shifted(s, 0.05),
        lambda s: scenes.rotated(s, 5),
        lambda s: scenes.occluded(s, 0.4),
        lambda s: scenes.street(2),
        lambda s: scenes.flat(s.shape, 120, noise=2),
    ],
    ids=["shifted-5%", "rotated-5deg", "occluded-40%", "another-scene", "covered-flat"],
)
def test_a_moved_or_blocked_view_falls_below_the_moved_threshold(change):
    assert similarity_to_scene(change(scene())) < DEFAULTS.moved_raise_similarity


def test_signatures_of_different_shape_are_not_compared():
    other_shape = scene_signature(np.zeros((240, 320), np.uint8))
    assert scene_similarity(scene_signature(small(scene())), other_shape) is None


def test_a_flat_frame_has_a_zero_signature():
    assert not scene_signature(np.full((180, 320), 77, np.uint8)).any()
