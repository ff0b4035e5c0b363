"""The one speech thread (edge.speech): what is said, in which order, and what a failure costs."""

from __future__ import annotations

import time

from edge.speech import SpeechThread


class Recorder(SpeechThread[str]):
    """Says a request by writing it down; «bad» cannot be said."""

    def __init__(self, *, backlog: int | None = None, newest_only: bool = False, broken: bool = False) -> None:
        super().__init__("test-speech", backlog=backlog, newest_only=newest_only)
        self.broken = broken
        self.said: list[str] = []
        self.failures: list[str] = []

    def prepare(self) -> None:
        if self.broken:
            raise OSError("no voice here")

    def speak(self, request: str) -> None:
        if request == "bad":
            raise ValueError("cannot say it")
        self.said.append(request)

    def failed(self, request: str, exc: Exception) -> None:
        self.failures.append(request)


def run_through(thread: Recorder, *requests: str) -> Recorder:
    for r in requests:
        thread.say(r)
    thread.close()
    thread.start()
    thread.join(5.0)
    assert not thread.is_alive(), "close() ends the thread"
    return thread


def test_every_call_is_said_once_in_order() -> None:
    assert run_through(Recorder(), "А001", "А002", "Б003").said == ["А001", "А002", "Б003"]


def test_past_the_backlog_the_oldest_waiting_call_is_dropped() -> None:
    assert run_through(Recorder(backlog=2), "А001", "А002", "А003", "А004").said == ["А003", "А004"]


def test_a_screen_read_aloud_says_only_the_newest_of_what_waits() -> None:
    thread = Recorder(newest_only=True)
    for screen in ("start", "menu", "ticket"):
        thread.say(screen)
    thread.start()
    deadline = time.monotonic() + 5.0
    while not thread.said and time.monotonic() < deadline:
        time.sleep(0.01)
    thread.close()
    thread.join(5.0)
    assert thread.said == ["ticket"]


def test_a_request_that_fails_does_not_silence_the_next() -> None:
    thread = run_through(Recorder(), "А001", "bad", "А002")
    assert thread.said == ["А001", "А002"] and thread.failures == ["bad"]


def test_without_a_voice_nothing_is_said_and_the_reason_is_kept() -> None:
    thread = run_through(Recorder(broken=True), "А001")
    assert thread.said == [] and thread.error == "no voice here" and not thread.ready.is_set()


def test_a_ready_voice_says_so() -> None:
    assert run_through(Recorder(), "А001").ready.is_set()
