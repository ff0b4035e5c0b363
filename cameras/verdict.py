"""Health verdicts of a camera and the small state machine that raises and clears them.

Each verdict is tracked on its own (a camera can be blurred and low on frame
rate at once). One observation says on which side of the verdict's
thresholds the camera is now; `advance_track` turns a stream of observations
into raise and clear decisions with three guards against false and
flapping alerts:

- persistence: a raise needs the raise condition to hold, unbroken, for at
  least `raise_after_s` seconds and `raise_min_checks` observations, so one
  bad frame never raises; a clear likewise needs the clear condition;
- hysteresis: raise and clear conditions use separate thresholds; between
  them (`Observation.BAND`) nothing changes and both runs start over;
- cooldown: a raised verdict stays raised at least `cooldown_s`, so a
  flickering light yields at most one raise and one clear per cooldown.
  Raising is never delayed: an alarm goes out as soon as it persists.

Pure functions over frozen dataclasses; time is passed in (monotonic seconds).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Verdict(enum.StrEnum):
    """What is wrong with a camera; OK when nothing is.

    The declaration order below OK is the order of severity used for the
    camera's single overall verdict (see `most_severe`): first what leaves
    the technician blind or misled (no picture, a black or an old picture, a
    wrong view), then a poor picture, then a poor stream.
    """

    OK = "ok"
    OFFLINE = "offline"  # no packets for offline_after_s, or disconnected
    BLACK = "black"  # black or covered: dark and without structure
    FROZEN = "frozen"  # keyframes (nearly) bit-identical for a while
    MOVED = "moved"  # the view no longer matches the learned scene: moved or occluded
    OVEREXPOSED = "overexposed"  # washed out, (nearly) all white
    BLURRED = "blurred"  # much softer than the camera's own baseline: defocus, dirt, fog
    STALLED = "stalled"  # the stream keeps stopping for seconds at a time
    LOW_FPS = "low_fps"  # fewer frames arrive than the camera is configured for


#: Verdicts from packet timing, judged by `CameraHealth.check`.
STREAM_VERDICTS = (Verdict.OFFLINE, Verdict.STALLED, Verdict.LOW_FPS)
#: Verdicts from the picture, judged on each keyframe.
PICTURE_VERDICTS = (
    Verdict.BLACK,
    Verdict.FROZEN,
    Verdict.MOVED,
    Verdict.OVEREXPOSED,
    Verdict.BLURRED,
)
_SEVERITY = tuple(v for v in Verdict if v is not Verdict.OK)


def most_severe(active: frozenset[Verdict] | set[Verdict]) -> Verdict:
    """The one verdict to show for a camera: the most severe active one, else OK."""
    for verdict in _SEVERITY:
        if verdict in active:
            return verdict
    return Verdict.OK


class Observation(enum.StrEnum):
    """Where one measurement falls against a verdict's two thresholds."""

    BAD = "bad"  # past the raise threshold
    GOOD = "good"  # past the clear threshold
    BAND = "band"  # between the two: hysteresis band, changes nothing
    UNKNOWN = "unknown"  # cannot be judged now (e.g. blur on a black frame)


@dataclass(frozen=True, slots=True)
class Reading:
    """One observation of a verdict's condition and the number it came from."""

    observation: Observation
    value: float | None = None


class Change(enum.StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Persistence:
    """How long a condition must hold before a verdict is raised or cleared.

    Both the time and the count must be reached: time alone would raise on
    two observations far apart, a count alone would depend on the camera's
    keyframe interval.
    """

    raise_after_s: float
    raise_min_checks: int
    clear_after_s: float
    clear_min_checks: int
    cooldown_s: float

    def __post_init__(self) -> None:
        if min(self.raise_after_s, self.clear_after_s, self.cooldown_s) < 0:
            raise ValueError(f"persistence times must not be negative: {self}")
        if self.raise_min_checks < 1 or self.clear_min_checks < 1:
            raise ValueError(f"persistence needs at least one check: {self}")


@dataclass(frozen=True, slots=True)
class Track:
    """The state of one verdict of one camera.

    `run_since` and `run_count` describe the current unbroken run of
    observations that would flip the state (BAD while clear, GOOD while
    raised); `raised_at` is when the verdict was last raised.
    """

    active: bool = False
    run_since: float | None = None
    run_count: int = 0
    raised_at: float | None = None


def advance_track(
    track: Track, observation: Observation, at: float, rule: Persistence
) -> tuple[Track, Change | None]:
    """Fold one observation at monotonic time `at` into a verdict's state.

    Returns the new state and the change it caused, if any.
    """
    wanted = Observation.GOOD if track.active else Observation.BAD
    if observation is not wanted:
        # BAND, UNKNOWN or the opposite condition break the run: persistence
        # means an unbroken run, and UNKNOWN is no evidence of continuity.
        if track.run_since is None:
            return track, None
        return replace(track, run_since=None, run_count=0), None
    since = at if track.run_since is None else track.run_since
    count = track.run_count + 1
    held = at - since
    if not track.active:
        if held >= rule.raise_after_s and count >= rule.raise_min_checks:
            return Track(active=True, raised_at=at), Change.RAISED
    else:
        cooled = track.raised_at is None or at - track.raised_at >= rule.cooldown_s
        if held >= rule.clear_after_s and count >= rule.clear_min_checks and cooled:
            return Track(active=False, raised_at=track.raised_at), Change.CLEARED
    return replace(track, run_since=since, run_count=count), None


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """A verdict of one camera was raised or cleared; sent to the hub.

    `at` is the monotonic time of the observation that caused it (the
    service stamps UTC when it stores the event). `value` is the measure
    behind it: seconds since the last packet (offline), stalls in the window
    (stalled), frames per second (low_fps), mean brightness (black,
    overexposed), fraction of changed pixels (frozen), similarity to the
    learned scene (moved), sharpness relative to the baseline (blurred).
    """

    camera_id: str
    verdict: Verdict
    change: Change
    at: float
    value: float | None
    text_uk: str
    text_en: str


#: Person-facing text of each change: (Ukrainian, English).
TEXTS: dict[tuple[Verdict, Change], tuple[str, str]] = {
    (Verdict.OFFLINE, Change.RAISED): ("Камера не на зв’язку", "Camera offline"),
    (Verdict.OFFLINE, Change.CLEARED): ("Камера знову на зв’язку", "Camera back online"),
    (Verdict.BLACK, Change.RAISED): (
        "Чорне зображення: об’єктив закрито або немає світла",
        "Black picture: lens covered or no light",
    ),
    (Verdict.BLACK, Change.CLEARED): ("Зображення знову видно", "Picture visible again"),
    (Verdict.FROZEN, Change.RAISED): (
        "Зображення застигло: камера показує старий кадр",
        "Picture frozen: the camera shows an old frame",
    ),
    (Verdict.FROZEN, Change.CLEARED): ("Зображення знову оновлюється", "Picture updating again"),
    (Verdict.MOVED, Change.RAISED): (
        "Камеру зміщено або огляд перекрито",
        "Camera moved or its view is blocked",
    ),
    (Verdict.MOVED, Change.CLEARED): ("Огляд камери відновлено", "Camera view restored"),
    (Verdict.OVEREXPOSED, Change.RAISED): (
        "Зображення засвічене",
        "Picture over-exposed",
    ),
    (Verdict.OVEREXPOSED, Change.CLEARED): ("Експозиція знову в нормі", "Exposure normal again"),
    (Verdict.BLURRED, Change.RAISED): (
        "Зображення розмите: розфокусування, брудний об’єктив або туман",
        "Picture blurred: out of focus, dirty lens or fog",
    ),
    (Verdict.BLURRED, Change.CLEARED): ("Зображення знову чітке", "Picture sharp again"),
    (Verdict.STALLED, Change.RAISED): (
        "Відеопотік камери раз у раз зупиняється",
        "Camera stream keeps stalling",
    ),
    (Verdict.STALLED, Change.CLEARED): (
        "Відеопотік камери знову стабільний",
        "Camera stream steady again",
    ),
    (Verdict.LOW_FPS, Change.RAISED): ("Замало кадрів за секунду", "Frame rate too low"),
    (Verdict.LOW_FPS, Change.CLEARED): ("Частота кадрів знову в нормі", "Frame rate normal again"),
}


def make_event(
    camera_id: str, verdict: Verdict, change: Change, at: float, value: float | None
) -> HealthEvent:
    text_uk, text_en = TEXTS[(verdict, change)]
    return HealthEvent(camera_id, verdict, change, at, value, text_uk, text_en)
