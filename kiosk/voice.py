"""Spoken calls, fully offline: a clip per word made once with espeak-ng, stitched per call.

:mod:`kiosk.speech` decides the words («талон а сорок два, вікно номер
три»); this module makes them sound. :class:`ClipLibrary` generates one WAV
per token of :func:`kiosk.speech.vocabulary` with Debian's ``espeak-ng``
(voice ``uk``) into a cache directory, at install time
(``python -m kiosk.voice <dir>``) or on first use, and records what it made
in ``manifest.json`` (the voice, the speed, espeak-ng's version and the
phonemes it spoke, so a check can see Ukrainian was spoken). Each clip is
trimmed of espeak's own silence and given the same short margins, so a call
is the plain concatenation of its clips: predictable, testable, and the
same every time. The pause token («,») is a clip of silence.

A :class:`Speaker` plays a stitched call: ``aplay`` on the board's sound
card, or nothing (the WAV file is the output: tests, the demo). The thread
that does the stitching and playing, one request after another, is
:class:`edge.speech.SpeechThread` (the calling screen's
:class:`~kiosk.calling.announcer.Announcer` is one).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol

import numpy as np

from kiosk.speech import PAUSE, vocabulary

log = logging.getLogger("hromada.voice")

ESPEAK = "espeak-ng"
VOICE = "uk"
SPEED_WPM = 140  # a little slower than espeak's 175: a hall, an echo, older listeners
LEAD_S = 0.03  # silence kept before each word
TAIL_S = 0.07  # and after it: the gap between words of a call
PAUSE_S = 0.30  # the «,» between the ticket and the window
THRESHOLD = 400  # |sample| above this counts as speech (16-bit)
MANIFEST = "manifest.json"


class VoiceUnavailable(RuntimeError):
    """espeak-ng is not installed, or could not speak a word."""


@dataclass(frozen=True, slots=True)
class Segment:
    """Where one token's clip lies in a stitched call, in frames."""

    token: str
    start: int
    frames: int


@dataclass(frozen=True, slots=True)
class Stitched:
    """A call as audio: the frames, their format, and the clip boundaries."""

    frames: bytes
    rate: int
    width: int
    channels: int
    segments: tuple[Segment, ...]

    @property
    def seconds(self) -> float:
        return len(self.frames) / (self.width * self.channels) / self.rate

    def write(self, path: Path) -> Path:
        """Write as a WAV file atomically (a player never reads half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".call-", suffix=".wav", dir=path.parent)
        os.close(fd)
        try:
            with wave.open(tmp, "wb") as w:
                w.setnchannels(self.channels)
                w.setsampwidth(self.width)
                w.setframerate(self.rate)
                w.writeframes(self.frames)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def espeak_available(program: str = ESPEAK) -> bool:
    return shutil.which(program) is not None


def clip_name(token: str) -> str:
    """A file name for any token («п'ять», «м'який знак», «,») that every file system takes."""
    return "tok-" + hashlib.sha1(token.encode("utf-8")).hexdigest()[:12] + ".wav"


class ClipLibrary:
    """The cache directory of word clips, generated on first use."""

    def __init__(self, directory: Path, voice: str = VOICE, speed: int = SPEED_WPM, program: str = ESPEAK) -> None:
        self.directory = Path(directory)
        self.voice, self.speed, self.program = voice, speed, program
        self.manifest: dict[str, object] = {}
        self._frames: dict[str, bytes] = {}
        self.rate, self.width, self.channels = 22050, 2, 1

    @property
    def tokens(self) -> dict[str, dict[str, object]]:
        return self.manifest.get("tokens", {})  # type: ignore[return-value]

    def ensure(self, words: Iterable[str] | None = None) -> int:
        """Make sure a clip exists for every token; generate the missing ones. Returns how many were made.

        A library made with another voice or speed is made again.
        """
        wanted = sorted(set(words) if words is not None else vocabulary())
        self.directory.mkdir(parents=True, exist_ok=True)
        self.manifest = self._read_manifest()
        if self.manifest.get("voice") != self.voice or self.manifest.get("speed") != self.speed:
            self.manifest = {"voice": self.voice, "speed": self.speed, "tokens": {}}
        missing = [t for t in wanted if t not in self.tokens or not (self.directory / clip_name(t)).exists()]
        if not missing:
            self._load_format()
            return 0
        spoken = [t for t in missing if t != PAUSE]
        if spoken and not espeak_available(self.program):
            raise VoiceUnavailable(f"{self.program} is not installed (apt-get install espeak-ng)")
        self.manifest["espeak"] = self._version()
        with ThreadPoolExecutor(max_workers=4) as pool:
            made = list(pool.map(self._make, spoken))
        for token, entry in zip(spoken, made):
            self.tokens[token] = entry
        if PAUSE in missing:
            self.tokens[PAUSE] = self._silence(PAUSE, PAUSE_S)
        self._write_manifest()
        self._load_format()
        log.info("voice clips: %d made with %s (voice %s) in %s", len(missing), self.program, self.voice,
                 self.directory)
        return len(missing)

    def _make(self, token: str) -> dict[str, object]:
        with tempfile.TemporaryDirectory(prefix="espeak-") as tmp:
            raw = Path(tmp) / "raw.wav"
            try:
                done = subprocess.run([self.program, "-v", self.voice, "-s", str(self.speed), "-x", "-w", str(raw),
                                       "--", token], capture_output=True, text=True, timeout=30, check=True)
            except (OSError, subprocess.SubprocessError) as exc:
                raise VoiceUnavailable(f"{self.program} could not speak {token!r}: {exc}") from None
            with wave.open(str(raw), "rb") as w:
                rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
                samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        if width != 2 or channels != 1:
            raise VoiceUnavailable(f"{self.program} made {channels} channel(s) of {8 * width} bits; expected mono 16-bit")
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > THRESHOLD)
        if loud.size == 0:
            raise VoiceUnavailable(f"{self.program} produced silence for {token!r}")
        lead, tail = np.zeros(int(LEAD_S * rate), "<i2"), np.zeros(int(TAIL_S * rate), "<i2")
        trimmed = np.concatenate([lead, samples[loud[0]:loud[-1] + 1], tail])
        self._write_clip(token, trimmed.tobytes(), rate)
        return {"file": clip_name(token), "frames": int(trimmed.size), "rate": rate,
                "phonemes": done.stdout.strip()}

    def _silence(self, token: str, seconds: float) -> dict[str, object]:
        rate = self._rate_of_any()
        frames = int(seconds * rate)
        self._write_clip(token, bytes(2 * frames), rate)
        return {"file": clip_name(token), "frames": frames, "rate": rate, "phonemes": ""}

    def _rate_of_any(self) -> int:
        for entry in self.tokens.values():
            return int(entry["rate"])  # type: ignore[call-overload]
        return 22050

    def _write_clip(self, token: str, frames: bytes, rate: int) -> None:
        Stitched(frames, rate, 2, 1, ()).write(self.directory / clip_name(token))

    def _version(self) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([self.program, "--version"], capture_output=True, text=True, timeout=10).stdout
            return out.split("Data at")[0].strip()
        return ""

    def _read_manifest(self) -> dict[str, object]:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("tokens"), dict):
                return data
        return {}

    def _write_manifest(self) -> None:
        path = self.directory / MANIFEST
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    def _load_format(self) -> None:
        rates = {int(e["rate"]) for e in self.tokens.values()}  # type: ignore[call-overload]
        if len(rates) > 1:
            raise VoiceUnavailable(f"clips differ in sample rate {sorted(rates)}; delete {self.directory} to remake")
        self.rate = rates.pop() if rates else 22050

    def clip(self, token: str) -> bytes:
        """The frames of one token's clip."""
        if token not in self._frames:
            if token not in self.tokens:
                raise KeyError(f"no clip for {token!r}: run ensure() first")
            with wave.open(str(self.directory / clip_name(token)), "rb") as w:
                self._frames[token] = w.readframes(w.getnframes())
        return self._frames[token]

    def stitch(self, tokens: list[str]) -> Stitched:
        """The call: each token's clip, in order, nothing between them."""
        parts, segments, start = [], [], 0
        for token in tokens:
            frames = self.clip(token)
            n = len(frames) // 2
            parts.append(frames)
            segments.append(Segment(token, start, n))
            start += n
        return Stitched(b"".join(parts), self.rate, 2, 1, tuple(segments))


class Speaker(Protocol):
    """Where a stitched call goes."""

    name: str

    def play(self, wav: Path) -> None: ...


class SoundCard:
    """The board's sound card through ALSA's ``aplay`` (Debian: alsa-utils)."""

    name = "device"

    def __init__(self, program: str = "aplay") -> None:
        self.program = program

    @staticmethod
    def present(program: str = "aplay") -> bool:
        return shutil.which(program) is not None and Path("/dev/snd").exists()

    def play(self, wav: Path) -> None:
        subprocess.run([self.program, "-q", str(wav)], timeout=60, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class FileOnly:
    """No sound: the WAV file written for the call is the output (tests, the demo, a board without speakers)."""

    name = "file"

    def play(self, wav: Path) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    """Make the clip library at install time: ``python -m kiosk.voice /var/lib/hromada/voice``."""
    ap = argparse.ArgumentParser(description="Generate the Ukrainian call clips with espeak-ng.")
    ap.add_argument("directory", type=Path)
    args = ap.parse_args(argv)
    try:
        made = ClipLibrary(args.directory).ensure()
    except VoiceUnavailable as exc:
        print(f"error: {exc}")
        return 1
    print(f"{made} clips made in {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
