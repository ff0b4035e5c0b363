"""Spoken calls: the clip library espeak-ng makes, and calls stitched from it, checked as audio."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from kiosk.calling.announcer import Announcement, CallTracker
from kiosk.speech import PAUSE, call_tokens, say, vocabulary
from kiosk.voice import MANIFEST, ClipLibrary, clip_name, espeak_available

needs_espeak = pytest.mark.skipif(not espeak_available(),
                                  reason="espeak-ng is not installed (apt-get install espeak-ng): no clips to test")


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> ClipLibrary:
    """The whole clip library, made once for the test session with the real espeak-ng."""
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    library = ClipLibrary(tmp_path_factory.mktemp("voice"))
    assert library.ensure() == len(vocabulary())
    return library


def read_wav(path: Path) -> tuple[wave._wave_params, bytes]:
    with wave.open(str(path), "rb") as w:
        return w.getparams(), w.readframes(w.getnframes())


# A sample of numbers 1–999 and the words a call says for them (the numeral grammar is in test_queue_speech).
CALLS = [
    ("А001", 1, "талон а один, вікно номер один"),
    ("А042", 3, "талон а сорок два, вікно номер три"),
    ("П011", 12, "талон пе одинадцять, вікно номер дванадцять"),
    ("Р100", 2, "талон ер сто, вікно номер два"),
    ("Г215", 21, "талон ге двісті п'ятнадцять, вікно номер двадцять один"),
    ("С999", 999, "талон ес дев'ятсот дев'яносто дев'ять, вікно номер дев'ятсот дев'яносто дев'ять"),
    ("Ю470", 4, "талон ю чотириста сімдесят, вікно номер чотири"),
]


@pytest.mark.parametrize("label, window, words", CALLS)
def test_a_call_is_spoken_as_letter_name_number_and_window_number(label: str, window: int, words: str) -> None:
    assert say(call_tokens(label, window)) == words
    assert say(call_tokens(label, window, repeat=True)) == "повторний виклик, " + words


@needs_espeak
@pytest.mark.parametrize("label, window, words", CALLS[1:4])
def test_the_stitched_call_is_exactly_its_clips_in_order(clips: ClipLibrary, tmp_path: Path, label: str,
                                                        window: int, words: str) -> None:
    tokens = call_tokens(label, window)
    path = clips.stitch(tokens).write(tmp_path / "call.wav")
    params, frames = read_wav(path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, clips.rate)
    offset = 0
    for token in tokens:
        clip_params, clip = read_wav(clips.directory / clip_name(token))
        assert clip_params.framerate == params.framerate
        assert frames[offset:offset + len(clip)] == clip, f"clip of {token!r} not where it belongs"
        offset += len(clip)
    assert offset == len(frames), "nothing but the clips"
    segments = clips.stitch(tokens).segments
    assert [s.token for s in segments] == tokens
    assert all(b.start == a.start + a.frames for a, b in zip(segments, segments[1:]))


@needs_espeak
def test_espeak_ng_really_spoke_ukrainian_words_of_plausible_length(clips: ClipLibrary) -> None:
    manifest = json.loads((clips.directory / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["voice"] == "uk" and "eSpeak" in manifest["espeak"]
    phonemes = {t: e["phonemes"] for t, e in manifest["tokens"].items()}
    # Ukrainian letter-to-sound rules, not an English voice spelling Cyrillic letters out one by one.
    assert phonemes["талон"].replace("'", "").lower().startswith("tal") and " " not in phonemes["талон"]
    assert phonemes["сорок"].replace("'", "").lower().startswith("s") and "k" in phonemes["сорок"]
    assert phonemes["ге"].startswith("h"), "Ukrainian «г» is [ɦ], not [g]"
    for token in ("талон", "вікно", "сорок", "дев'ятсот", "а"):
        _, frames = read_wav(clips.directory / clip_name(token))
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
        seconds = len(samples) / clips.rate
        assert 0.15 <= seconds <= 1.6, f"{token!r} lasts {seconds:.2f} s"
        assert np.sqrt(np.mean(samples ** 2)) > 500, f"{token!r} is (nearly) silent"
    longer, shorter = (len(read_wav(clips.directory / clip_name(t))[1]) for t in ("дев'ятсот", "а"))
    assert longer > 2 * shorter
    _, pause = read_wav(clips.directory / clip_name(PAUSE))
    assert not any(pause) and len(pause) // 2 == int(0.3 * clips.rate)


@needs_espeak
def test_a_library_is_made_once_and_reused(clips: ClipLibrary) -> None:
    again = ClipLibrary(clips.directory)
    assert again.ensure() == 0
    assert again.stitch(["талон"]).frames == clips.clip("талон")


def board(at: str, *calls: tuple[str, int, str, bool]) -> dict:
    return {"type": "board", "at": at, "calls": [{"label": label, "window": window, "at": called, "repeat": repeat}
                                                 for label, window, called, repeat in calls]}


def test_each_call_is_spoken_once_oldest_first_and_a_reconnected_screen_does_not_read_out_the_morning() -> None:
    tracker = CallTracker()
    old = ("А001", 1, "2026-03-03T06:00:00.000Z", False)
    recent = ("А002", 2, "2026-03-03T08:59:50.000Z", False)
    first = tracker.new_calls(board("2026-03-03T09:00:00.000Z", recent, old))
    assert first == [Announcement("А002", 2, False, recent[2])]  # the 6 o'clock call stays silent
    newer = ("А003", 1, "2026-03-03T09:00:05.000Z", False)
    recall = ("А002", 2, "2026-03-03T09:00:06.000Z", True)
    spoken = tracker.new_calls(board("2026-03-03T09:00:06.000Z", recall, newer, recent, old))
    assert [(a.label, a.repeat) for a in spoken] == [("А003", False), ("А002", True)]
    assert tracker.new_calls(board("2026-03-03T09:00:07.000Z", recall, newer, recent, old)) == []
    assert spoken[1].tokens[:2] == ["повторний", "виклик"]
