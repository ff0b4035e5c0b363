"""A screen that shows what a controller sends: the hall's big screen, the ЦНАП calling screen.

Both roles are the same client: one sealed WebSocket to the controller
(:class:`edge.peers.PeerClient`), the last message it sent, and a drawing
thread (:class:`edge.screen.ScreenThread`) that is handed an update on every
change. A message that cannot be shown is refused and counted; the screen
keeps what it had. When the link drops, the last message is forgotten: after
a reconnect only a fresh one is shown, never a stale picture as current.

A role says what differs (:class:`ScreenClient`'s class attributes and the
methods under "what a role says"); the node's clock (``RoleContext.clock``) and
:func:`collect_metrics` are the pieces of its composition root both share.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, ClassVar, Generic, Protocol, TypeVar

from edge.clock import Clock
from edge.tasks import cancel_and_wait
from edge.identity import Identity
from edge.peers import KeyLookup, PeerClient
from edge.screen import ScreenThread

U = TypeVar("U")


class ScreenSettings(Protocol):
    """The keys every screen role has in its table (its settings dataclass declares them)."""

    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def fullscreen(self) -> bool: ...
    @property
    def png_dir(self) -> str: ...


class ScreenClient(Generic[U]):
    """The role: one socket to the controller, its last message, and the screen thread drawing it."""

    name: ClassVar[str]  # the role, e.g. "hall-display"
    peer: ClassVar[str]  # the controller's role, e.g. "hall": the health key and the log's word
    message_type: ClassVar[str]  # the "type" of the messages shown; others are ignored
    item: ClassVar[str]  # one message in words, e.g. "snapshot"
    path: ClassVar[str]  # the controller's WebSocket path for screens
    # The drawing thread: called with (size, fullscreen, png_dir, clock).
    screen_type: ClassVar[Callable[[tuple[int, int], bool, Path | None, Clock | None], ScreenThread[Any]]]

    def __init__(self, identity: Identity, settings: ScreenSettings, url_of: Callable[[], Awaitable[str]],
                 key_of: KeyLookup, clock: Clock | None = None) -> None:
        self.settings = settings
        self.latest: dict[str, Any] | None = None
        self.connected = False
        self.rejected = 0
        self.log = logging.getLogger(f"hromada.{self.name}")
        png_dir = Path(settings.png_dir) if settings.png_dir else None
        self.screen: ScreenThread[U] = self.screen_type((settings.width, settings.height), settings.fullscreen,
                                                        png_dir, clock)
        self.client = PeerClient(identity, self.path, url_of, key_of, self._on_message, self._on_state)
        self._task: asyncio.Task[None] | None = None

    # -- what a role says -------------------------------------------------------------------

    def problem(self, message: dict[str, Any]) -> str | None:
        """Why a message of :attr:`message_type` cannot be shown, or None."""
        raise NotImplementedError

    def update(self) -> U:
        """What the screen thread is handed for the current message and link."""
        raise NotImplementedError

    def accepted(self, message: dict[str, Any]) -> None:
        """Called after a message was taken and handed to the screen."""

    def link_changed(self, up: bool) -> None:
        """Called when the link to the controller comes up or goes down."""

    def more_health(self) -> dict[str, Any]:
        """The role's own health figures."""
        return {}

    def start_more(self) -> None:
        """Start the role's other threads (after the screen's)."""

    def stop_more(self) -> None:
        """Ask the role's other threads to stop (after the screen was asked)."""

    # -- the role's interface (edge.node) -------------------------------------------------------

    async def start(self) -> None:
        self.screen.start()
        self.start_more()
        self._push()  # «no connection» until the controller answers
        self._task = asyncio.create_task(self.client.run(), name=f"{self.name}-link")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self.screen.close()
        self.stop_more()
        await asyncio.to_thread(self.screen.join, 5.0)

    def health(self) -> dict[str, Any]:
        layout = self.screen.last_layout
        return {
            "connected": self.connected,
            self.peer: self.client.peer_id,
            "seq": (self.latest or {}).get("seq"),
            "showing": layout.state if layout else None,
            "window": self.screen.window,
            "frames": self.screen.frames,
            "pngs": self.screen.pngs,
            f"rejected_{self.item}s": self.rejected,
            **self.more_health(),
            "last_error": self.screen.last_error,
        }

    # -- the link ----------------------------------------------------------------------------------

    async def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != self.message_type:
            return
        problem = self.problem(message)
        if problem is not None:
            self.rejected += 1
            self.log.warning("ignoring a %s from the %s: %s", self.item, self.peer, problem)
            return
        self.latest = message
        self._push()
        self.accepted(message)

    def _on_state(self, up: bool) -> None:
        self.connected = up
        # Whatever we had is history now: after a reconnect only a fresh message is shown.
        self.latest = None
        self.link_changed(up)
        self.log.info("%s %s", self.peer, "connected" if up else "connection lost")
        self._push()

    def _push(self) -> None:
        self.screen.show(self.update())


def collect_metrics(ctx: Any, role: ScreenClient[Any]) -> None:
    """The screen's figures on the node's /metrics: link up, frames drawn, messages refused."""
    prefix = "hromada_" + role.name.replace("-", "_")
    items = f"{role.item}s"

    def collect() -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        return [
            (f"{prefix}_connected", "gauge", f"1 while the {role.peer}'s {items} arrive.",
             [({}, 1 if role.connected else 0)]),
            (f"{prefix}_frames_total", "counter", "Frames drawn.", [({}, role.screen.frames)]),
            (f"{prefix}_rejected_total", "counter", f"{items.capitalize()} refused as malformed.",
             [({}, role.rejected)]),
        ]
    ctx.metrics.collector(collect)
