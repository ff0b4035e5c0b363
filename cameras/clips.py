"""Small pre-encoded H.264 clips for the simulated RTSP camera and the benchmark.

Made once with Debian's ``ffmpeg`` (libx264) from the synthetic scenes of
`cameras.scenes`, into a cache directory, so the simulator only copies
bytes (live x264 at 1080p would cost half a core). One clip per picture a
camera can show: normal, black, frozen, blurred, moved. Every clip has the
same size, frame rate and encoder settings, so a simulator can switch from
one to another at a keyframe and a decoder never notices.

Clips are raw H.264 (Annex B) with an access unit delimiter before each
frame and SPS/PPS before each keyframe, as IP cameras send them; one slice
per frame. They are not committed: `ensure_clips` makes them at first use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cameras import scenes
from cameras.annexb import nal_units, split_access_units  # noqa: F401  (re-exported for the tests)

PICTURES = ("normal", "black", "frozen", "blurred", "moved")


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """Size, rate and coding of a set of clips."""

    width: int = 640
    height: int = 360
    fps: int = 10
    seconds: float = 4.0
    gop_s: float = 2.0
    bitrate_kbps: int = 0  # 0: constant quality (crf 28)

    @property
    def name(self) -> str:
        rate = f"{self.bitrate_kbps}k" if self.bitrate_kbps else "crf"
        return f"{self.width}x{self.height}-{self.fps}fps-gop{self.gop_s:g}-{self.seconds:g}s-{rate}-v2"


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hromada" / "camera-clips"


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg")


def _frames(picture: str, spec: ClipSpec) -> list[np.ndarray]:
    street = scenes.street(1, spec.width, spec.height)
    count = max(1, round(spec.seconds * spec.fps))
    noise = 3.0
    if picture == "black":
        shown, noise = scenes.flat(street.shape, 6), 2.0
    elif picture == "blurred":
        shown = scenes.blurred(street, max(3.0, spec.width / 110))
    elif picture == "moved":
        shown = scenes.shifted(street, 0.08)
    else:
        shown = street
    if picture == "frozen":
        still = scenes.live(shown, 0, noise=noise, jpeg_quality=None)
        return [still] * count
    # A few noisy frames, cycled: enough to keep every keyframe different.
    distinct = [scenes.live(shown, seed, noise=noise, jpeg_quality=None) for seed in range(min(count, 7))]
    return [distinct[i % len(distinct)] for i in range(count)]


def encode(frames: list[np.ndarray], spec: ClipSpec, out: Path, constant_qp: bool = False) -> None:
    """Encode gray frames to an Annex B H.264 clip at `out` with libx264.

    `constant_qp`: one quantiser for every frame, so the same picture gives
    bit-identical keyframes (a frozen camera repeating its last frame);
    under rate control x264 spends a different budget on each keyframe and
    the decoded copies of one still picture differ by a level on most pixels.
    """
    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed (apt-get install ffmpeg)")
    gop = max(1, round(spec.gop_s * spec.fps))
    rate = (["-b:v", f"{spec.bitrate_kbps}k", "-maxrate", f"{spec.bitrate_kbps}k", "-bufsize",
             f"{2 * spec.bitrate_kbps}k"] if spec.bitrate_kbps and not constant_qp else ["-crf", "28"])
    if constant_qp:
        rate = ["-qp", "28"]
    cmd = [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s",
           f"{spec.width}x{spec.height}", "-r", str(spec.fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
           "-profile:v", "main", "-bf", "0", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
           *rate, "-x264-params", "aud=1:repeat-headers=1:sliced-threads=0:threads=1", "-pix_fmt", "yuv420p",
           "-f", "h264", str(out)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for frame in frames:
            proc.stdin.write(frame.tobytes())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    assert proc.stderr is not None
    err = proc.stderr.read()
    if proc.wait(timeout=300) != 0:
        raise RuntimeError(f"ffmpeg failed: {err.decode(errors='replace')[-500:]}")


def ensure_clips(spec: ClipSpec = ClipSpec(), cache: Path | None = None) -> Path:
    """The directory holding `<picture>.h264` for every picture, made if missing."""
    folder = (cache or default_cache()) / spec.name
    done = folder / ".done"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for picture in PICTURES:
        tmp = folder / f"{picture}.h264.tmp"
        encode(_frames(picture, spec), spec, tmp, constant_qp=picture == "frozen")
        tmp.replace(folder / f"{picture}.h264")
    done.write_text(spec.name + "\n")
    return folder

