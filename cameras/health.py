"""Camera health: is this camera offline, stalling, slow, black, washed out,
frozen, blurred, or moved/occluded?

The functional core of the camera role's health checks. The service (the
imperative shell) owns one `CameraHealth` per camera and feeds it:

    health = CameraHealth("cam-1", started_at=time.monotonic(), expected_fps=25)
    health.on_packet(time.monotonic())                     # every video packet
    small = prepare_frame(keyframe.to_ndarray(format="gray"))
    events = health.on_keyframe(small, time.monotonic())   # every decoded keyframe
    events = health.check(time.monotonic(), connected=worker.connected)  # ~1 s

and sends the returned `HealthEvent`s to the hub. Nothing here reads a clock,
does I/O or touches asyncio; the judging itself is pure functions
(`judge_frame`, `judge_stream`, `advance_track`) over plain data.

Thresholds are those of `shared/reference/cameras.md` where it gives one;
where this module departs from it, `HealthConfig` says why.
"""

from __future__ import annotations

import numpy as np

from cameras.baseline import SceneBaseline, adapt_baseline, learn_baseline
from cameras.frames import (
    FrameMeasures,
    measure_frame,
    prepare_frame,
    require_gray,
    scene_signature,
    scene_similarity,
)
from cameras.stream import PacketLog, StreamMeasures
from cameras.thresholds import DEFAULT_PERSISTENCE, HealthConfig
from cameras.verdict import (
    PICTURE_VERDICTS,
    STREAM_VERDICTS,
    Change,
    HealthEvent,
    Observation,
    Persistence,
    Reading,
    Track,
    Verdict,
    advance_track,
    make_event,
    most_severe,
)

__all__ = [
    "DEFAULT_PERSISTENCE",
    "CameraHealth",
    "Change",
    "FrameMeasures",
    "HealthConfig",
    "HealthEvent",
    "Observation",
    "Persistence",
    "Reading",
    "SceneBaseline",
    "StreamMeasures",
    "Verdict",
    "judge_frame",
    "judge_stream",
    "prepare_frame",
]

BAD, GOOD, BAND, UNKNOWN = (
    Observation.BAD,
    Observation.GOOD,
    Observation.BAND,
    Observation.UNKNOWN,
)


def _band(bad: bool, good: bool, value: float | None) -> Reading:
    return Reading(BAD if bad else GOOD if good else BAND, value)


def judge_frame(
    measures: FrameMeasures,
    similarity: float | None,
    baseline: SceneBaseline | None,
    config: HealthConfig,
) -> dict[Verdict, Reading]:
    """Judge one keyframe against every picture verdict's thresholds.

    A black or washed-out frame carries no picture to judge, so frozen,
    moved and blurred are UNKNOWN on it (a covered lens is black, not also
    frozen, moved and blurred). Moved and blurred need a baseline; blur is
    also UNKNOWN on a frame that shows another view (moved), whose
    sharpness says nothing about the lens.
    """
    m, c = measures, config
    black = _band(
        m.mean < c.black_raise_mean and m.std < c.black_raise_std,
        m.mean >= c.black_clear_mean or m.std >= c.black_clear_std,
        m.mean,
    )
    overexposed = _band(
        m.mean > c.overexposed_raise_mean or m.bright_fraction >= c.overexposed_raise_bright,
        m.mean <= c.overexposed_clear_mean and m.bright_fraction <= c.overexposed_clear_bright,
        m.mean,
    )
    unknown = Reading(UNKNOWN)
    readings = {Verdict.BLACK: black, Verdict.OVEREXPOSED: overexposed}
    if black.observation is BAD or overexposed.observation is BAD:
        readings.update(dict.fromkeys((Verdict.FROZEN, Verdict.MOVED, Verdict.BLURRED), unknown))
        return readings

    changed = m.changed_fraction
    readings[Verdict.FROZEN] = (
        unknown
        if changed is None
        else _band(changed <= c.frozen_raise_changed, changed >= c.frozen_clear_changed, changed)
    )
    moved = (
        unknown
        if similarity is None
        else _band(
            similarity < c.moved_raise_similarity,
            similarity >= c.moved_clear_similarity,
            similarity,
        )
    )
    readings[Verdict.MOVED] = moved
    if baseline is None or baseline.sharpness <= 0 or moved.observation is BAD:
        readings[Verdict.BLURRED] = unknown
    else:
        ratio = m.sharpness / baseline.sharpness
        readings[Verdict.BLURRED] = _band(
            ratio < c.blur_raise_ratio, ratio >= c.blur_clear_ratio, ratio
        )
    return readings


def judge_stream(
    measures: StreamMeasures, expected_fps: float | None, config: HealthConfig
) -> dict[Verdict, Reading]:
    """Judge the packet flow against the stream verdicts' thresholds.

    Every stop of the stream counts as a stall, an outage included, so a
    camera that keeps dropping out is also reported as stalling. The frame
    rate is judged only while packets flow (connected, no stall in
    progress): a stop is a stall or an outage, not a slow stream.
    """
    m, c = measures, config
    age = m.last_packet_age_s
    offline = _band(
        age >= c.offline_after_s or (not m.connected and age >= c.offline_disconnected_after_s),
        m.connected and not m.stall_in_progress,
        age,
    )
    stalled = _band(
        m.stalls >= c.stalled_raise_count, m.stalls <= c.stalled_clear_count, float(m.stalls)
    )
    flowing = offline.observation is GOOD
    if not flowing or expected_fps is None or expected_fps <= 0 or m.fps is None:
        low_fps = Reading(UNKNOWN)
    else:
        ratio = m.fps / expected_fps
        low_fps = _band(
            ratio < c.low_fps_raise_fraction, ratio >= c.low_fps_clear_fraction, m.fps
        )
    return {Verdict.OFFLINE: offline, Verdict.STALLED: stalled, Verdict.LOW_FPS: low_fps}


class CameraHealth:
    """Health of one camera: feeds measures through the verdict state machines.

    Owns the camera's packet log, its learned scene baseline, the previous
    keyframe and one `Track` per verdict. Deterministic: the same calls with
    the same times give the same events. Not thread-safe: call it from one
    thread (or under one lock); `on_packet` is cheap enough for a reader
    thread to call per packet under that lock.
    """

    def __init__(
        self,
        camera_id: str,
        *,
        started_at: float,
        expected_fps: float | None = None,
        config: HealthConfig | None = None,
        baseline: SceneBaseline | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.expected_fps = expected_fps
        self.config = config if config is not None else HealthConfig()
        self._packets = PacketLog(
            started_at,
            stall_gap_s=self.config.stall_gap_s(expected_fps),
            fps_window_s=self.config.fps_window_s,
            stall_window_s=self.config.stall_window_s,
        )
        self._tracks: dict[Verdict, Track] = {
            v: Track() for v in (*STREAM_VERDICTS, *PICTURE_VERDICTS)
        }
        self._baseline = baseline
        self._samples: list[tuple[float, np.ndarray]] = []
        self._previous: np.ndarray | None = None
        self.last_frame: FrameMeasures | None = None
        self.last_similarity: float | None = None

    @property
    def baseline(self) -> SceneBaseline | None:
        """The learned scene, or None while the first good keyframes are awaited."""
        return self._baseline

    @property
    def active(self) -> frozenset[Verdict]:
        """Every verdict currently raised."""
        return frozenset(v for v, t in self._tracks.items() if t.active)

    @property
    def verdict(self) -> Verdict:
        """The single most severe raised verdict, or OK."""
        return most_severe(self.active)

    def rebaseline(self) -> None:
        """Forget the learned scene and learn it again from the next good keyframes.

        For a technician who has deliberately re-aimed or refocused the camera.
        Raised picture verdicts stay raised until the new baseline clears them.
        """
        self._baseline = None
        self._samples = []

    def on_packet(self, at: float) -> None:
        """Note that a video packet arrived at monotonic time `at`."""
        self._packets.record(at)

    def offline_due(self) -> float:
        """When the camera will be offline by the silence rule if no packet comes before (monotonic)."""
        if Verdict.OFFLINE in self.active:
            return float("inf")
        return self._packets.silent_since + self.config.offline_after_s

    def stream(self, at: float, *, connected: bool) -> StreamMeasures:
        """The stream measures at `at` (for /metrics), without judging them."""
        return self._packets.measure(at, connected=connected)

    def check(self, at: float, *, connected: bool) -> list[HealthEvent]:
        """Judge the packet flow at `at`; call about once a second, packets or not."""
        measures = self.stream(at, connected=connected)
        readings = judge_stream(measures, self.expected_fps, self.config)
        return self._advance(readings, at)

    def on_keyframe(self, gray: np.ndarray, at: float) -> list[HealthEvent]:
        """Judge one keyframe prepared by `prepare_frame`, decoded at `at`.

        Raises ValueError for a frame that is not 2-D uint8 (and changes nothing).
        """
        require_gray(gray)
        signature = scene_signature(gray)
        if self._baseline is not None and self._baseline.signature.shape != signature.shape:
            # The stream's resolution or aspect changed: the camera was
            # reconfigured, the old scene cannot be compared; learn anew.
            self.rebaseline()
        measures = measure_frame(
            gray, self._previous, change_delta=self.config.frozen_change_delta
        )
        similarity = (
            None
            if self._baseline is None
            else scene_similarity(signature, self._baseline.signature)
        )
        readings = judge_frame(measures, similarity, self._baseline, self.config)
        self._learn(measures, signature, readings)
        # Keep our own copy: the caller may reuse its buffer for the next frame.
        self._previous = gray.copy()
        self.last_frame = measures
        self.last_similarity = similarity
        return self._advance(readings, at)

    def _learn(
        self, measures: FrameMeasures, signature: np.ndarray, readings: dict[Verdict, Reading]
    ) -> None:
        if self._baseline is None:
            # Learn only from clearly well-exposed frames: a baseline taken in
            # the dark would make every later frame look sharp and different.
            exposed = all(
                readings[v].observation is GOOD for v in (Verdict.BLACK, Verdict.OVEREXPOSED)
            )
            if exposed:
                self._samples.append((measures.sharpness, signature))
                if len(self._samples) >= self.config.baseline_keyframes:
                    self._baseline = learn_baseline(self._samples)
                    self._samples = []
            return
        # Follow slow changes (daylight, seasons) only on frames that clearly
        # show the usual view in focus, so a moved or blurred camera is never
        # learned as normal however long it stays so.
        normal = all(readings[v].observation is GOOD for v in (Verdict.MOVED, Verdict.BLURRED))
        if normal and self.config.baseline_adapt_rate > 0:
            self._baseline = adapt_baseline(
                self._baseline, measures.sharpness, signature, self.config.baseline_adapt_rate
            )

    def _advance(self, readings: dict[Verdict, Reading], at: float) -> list[HealthEvent]:
        events = []
        for verdict, reading in readings.items():
            track, change = advance_track(
                self._tracks[verdict], reading.observation, at, self.config.persistence[verdict]
            )
            self._tracks[verdict] = track
            if change is not None:
                events.append(make_event(self.camera_id, verdict, change, at, reading.value))
        return events
