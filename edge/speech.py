"""The one thread that speaks: things to say go in a queue and are said one after another.

Making a voice and playing a sound both block, so a screen that speaks (the
ЦНАП calling screen, the kiosk in speech mode) hands what to say to a
:class:`SpeechThread` and never waits. The thread is the same for every
speaker; what differs is said by two choices and two methods:

- *which waiting requests are worth saying*: every one in order, the oldest
  dropped past a ``backlog`` (calls: each is somebody's turn), or only the
  newest (a kiosk screen read aloud: an older screen is gone);
- :meth:`SpeechThread.prepare`, run once before anything is said (making
  the clips); failing with one of :attr:`SpeechThread.unavailable` leaves
  the thread silent, with the reason in :attr:`SpeechThread.error`;
- :meth:`SpeechThread.speak`, which says one request. One that fails is
  logged (:meth:`SpeechThread.failed`) and the next is said all the same.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from typing import ClassVar, Generic, TypeVar

log = logging.getLogger("hromada.speech")

R = TypeVar("R")


class SpeechThread(threading.Thread, Generic[R]):
    """Says requests of type ``R`` one after another, in its own thread."""

    unavailable: ClassVar[tuple[type[BaseException], ...]] = (OSError,)
    silent_note: ClassVar[str] = "nothing will be spoken"  # logged with the reason when prepare() fails

    def __init__(self, name: str, *, backlog: int | None = None, newest_only: bool = False) -> None:
        super().__init__(name=name, daemon=True)
        self.backlog, self.newest_only = backlog, newest_only
        self.requests: queue.Queue[R | None] = queue.Queue()
        self.ready = threading.Event()  # set once prepare() succeeded
        self.error = ""
        self.log = log

    # -- what a speaker says -------------------------------------------------------------

    def prepare(self) -> None:
        """Make what speaking needs, once, in the thread (clips, a voice)."""

    def speak(self, request: R) -> None:
        """Say one request; blocks until it is said."""
        raise NotImplementedError

    def failed(self, request: R, exc: Exception) -> None:
        """A request could not be said; the thread goes on with the next."""
        self.log.exception("could not say %s: %s", request, exc)

    # -- any thread ------------------------------------------------------------------------

    def say(self, request: R) -> None:
        """Thread-safe: queue a request (past the backlog, the oldest waiting is dropped)."""
        if self.backlog is not None and self.requests.qsize() >= self.backlog:
            try:
                dropped = self.requests.get_nowait()
                self.log.warning("too much to say; skipped %s", dropped)
            except queue.Empty:
                pass
        self.requests.put_nowait(request)

    def close(self) -> None:
        self.requests.put_nowait(None)

    # -- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        silent = False
        try:
            self.prepare()
            self.ready.set()
        except self.unavailable as exc:
            self.error, silent = str(exc), True
            self.log.warning("%s: %s", self.silent_note, exc)
        while True:
            request = self.requests.get()
            if self.newest_only:
                with contextlib.suppress(queue.Empty):
                    while True:  # only the newest is worth saying
                        request = self.requests.get_nowait()
            if request is None:
                return
            if silent:
                continue
            try:
                self.speak(request)
            except Exception as exc:  # a request that fails must not silence the next one
                self.failed(request, exc)
