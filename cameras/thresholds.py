"""Thresholds and persistence of the camera health verdicts.

One `HealthConfig` per camera (the defaults suit most); the configuration
layer builds it from the node's TOML and reports a refused value with the
`ValueError` raised here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cameras.stream import stall_gap_s
from cameras.verdict import PICTURE_VERDICTS, STREAM_VERDICTS, Persistence, Verdict


#: Offline and stalled carry their persistence in the measure itself (10 s of
#: silence, 3 stalls in an hour), so they raise on the first bad check.
#: Picture verdicts count keyframes (one every ~2 s). Frozen waits 20 s
#: (reference: 10–30 s); moved waits a minute so a parked van or a person
#: at the lens does not raise it.
DEFAULT_PERSISTENCE: dict[Verdict, Persistence] = {
    Verdict.OFFLINE: Persistence(0.0, 1, 5.0, 2, cooldown_s=60.0),
    Verdict.STALLED: Persistence(0.0, 1, 0.0, 1, cooldown_s=600.0),
    Verdict.LOW_FPS: Persistence(30.0, 3, 30.0, 3, cooldown_s=300.0),
    Verdict.BLACK: Persistence(6.0, 3, 4.0, 2, cooldown_s=300.0),
    Verdict.OVEREXPOSED: Persistence(10.0, 3, 4.0, 2, cooldown_s=300.0),
    Verdict.FROZEN: Persistence(20.0, 4, 4.0, 2, cooldown_s=300.0),
    Verdict.BLURRED: Persistence(30.0, 5, 20.0, 3, cooldown_s=300.0),
    Verdict.MOVED: Persistence(60.0, 5, 20.0, 3, cooldown_s=300.0),
}


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """Thresholds and persistence of the health verdicts, for one camera.

    Each verdict has a raise threshold and a separate, milder clear
    threshold (hysteresis). Defaults follow the reference; departures:

    - black: "mean < 10–25 and low std" made concrete as mean < 20 and
      std < 5. Sensor noise of a covered lens leaves std ≈ 1–2 after the
      area downscale; any real structure at night (a lamp, a lit window, an
      IR-lit facade) lifts std above 5. So a dark, noisy night scene is
      black only when it truly shows nothing (see the tests).
    - over-exposed: mean > 245 as in the reference, or ≥ 90 % of pixels
      saturated, so glare with a dark corner still counts.
    - frozen: judged by the fraction of pixels that changed at all, not by a
      mean difference < 2 (see `cameras.frames.frame_change` for why).
    - blurred: 15 % of the baseline as in the reference, but of the
      contrast-normalised sharpness (see `cameras.frames.sharpness`), so
      nightfall is not defocus.
    - moved: similarity of edge layout < 0.75, the reference's SSIM figure
      applied to `cameras.frames.scene_signature`.
    - stalled: the reference counts stalls per hour; the verdict is raised
      when stalls recur (3 in an hour), because one 2-second stall is not
      something a technician can act on. A long silence is `offline`.
    """

    offline_after_s: float = 10.0
    offline_disconnected_after_s: float = 3.0

    stall_min_gap_s: float = 2.0
    stall_gap_frames: float = 2.0
    stall_window_s: float = 3600.0
    stalled_raise_count: int = 3
    stalled_clear_count: int = 1

    fps_window_s: float = 10.0
    low_fps_raise_fraction: float = 0.5
    low_fps_clear_fraction: float = 0.7

    black_raise_mean: float = 20.0
    black_raise_std: float = 5.0
    black_clear_mean: float = 30.0
    black_clear_std: float = 8.0

    overexposed_raise_mean: float = 245.0
    overexposed_raise_bright: float = 0.90
    overexposed_clear_mean: float = 235.0
    overexposed_clear_bright: float = 0.70

    frozen_change_delta: int = 1
    frozen_raise_changed: float = 0.02
    frozen_clear_changed: float = 0.05

    blur_raise_ratio: float = 0.15
    blur_clear_ratio: float = 0.30

    moved_raise_similarity: float = 0.75
    moved_clear_similarity: float = 0.85

    baseline_keyframes: int = 5
    # Per keyframe; with a 2 s keyframe interval the learned scene follows
    # the light through the day (time constant ≈ 3 min), while a moved or
    # blurred picture is never learned (see `CameraHealth._learn`).
    baseline_adapt_rate: float = 0.01

    #: Per verdict; verdicts left out keep their DEFAULT_PERSISTENCE.
    persistence: dict[Verdict, Persistence] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def require(ok: bool, why: str) -> None:
            if not ok:
                raise ValueError(f"camera health configuration: {why}")

        require(self.offline_after_s > 0, "offline_after_s must be positive")
        require(
            self.offline_disconnected_after_s >= 0,
            "offline_disconnected_after_s must not be negative",
        )
        require(
            self.stall_min_gap_s > 0 and self.stall_gap_frames > 0, "stall gap must be positive"
        )
        require(self.stall_window_s > 0 and self.fps_window_s > 0, "windows must be positive")
        require(
            0 <= self.stalled_clear_count < self.stalled_raise_count,
            "stalled_clear_count must be below stalled_raise_count",
        )
        require(
            0 < self.low_fps_raise_fraction < self.low_fps_clear_fraction,
            "low_fps_raise_fraction must be positive and below low_fps_clear_fraction",
        )
        require(
            self.black_raise_mean < self.black_clear_mean
            and self.black_raise_std < self.black_clear_std,
            "black clear thresholds must be above the raise thresholds",
        )
        require(
            self.overexposed_clear_mean < self.overexposed_raise_mean
            and self.overexposed_clear_bright < self.overexposed_raise_bright,
            "over-exposure clear thresholds must be below the raise thresholds",
        )
        require(self.frozen_change_delta >= 1, "frozen_change_delta must be at least 1")
        require(
            0 <= self.frozen_raise_changed < self.frozen_clear_changed <= 1,
            "frozen_raise_changed must be below frozen_clear_changed",
        )
        require(
            0 < self.blur_raise_ratio < self.blur_clear_ratio,
            "blur_raise_ratio must be positive and below blur_clear_ratio",
        )
        require(
            -1 <= self.moved_raise_similarity < self.moved_clear_similarity <= 1,
            "moved_raise_similarity must be below moved_clear_similarity",
        )
        require(self.baseline_keyframes >= 1, "baseline_keyframes must be at least 1")
        require(0 <= self.baseline_adapt_rate < 1, "baseline_adapt_rate must be in [0, 1)")
        judged = (*STREAM_VERDICTS, *PICTURE_VERDICTS)
        unknown = [str(v) for v in self.persistence if v not in judged]
        require(not unknown, f"persistence given for verdicts never judged: {', '.join(unknown)}")
        # Frozen dataclass: fill in the defaults through object.__setattr__.
        object.__setattr__(self, "persistence", {**DEFAULT_PERSISTENCE, **self.persistence})

    def stall_gap_s(self, expected_fps: float | None) -> float:
        """The gap between packets that counts as a stall for this frame rate."""
        return stall_gap_s(
            expected_fps, min_gap_s=self.stall_min_gap_s, frames=self.stall_gap_frames
        )
