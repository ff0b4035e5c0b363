"""The `console` role: deputies' voting consoles talking to the hall.

One node drives one or more seats (``[[roles.console.seats]]``). A press
goes to the hall at once, as a ``press`` of ``voting.protocol``; the LEDs
change only on what the hall answers (``ack`` / ``refused`` / ``state``), so
a choice LED never lights before the ballot is committed. Nothing is queued
while the hall is away: a vote must never arrive late, so a press then is
refused on the spot and the status LED shows the lost link.

Presence rule: with ``presence_required = true`` (the default) a press made
without the presence sensor held is refused *on the console*, at once, and
never sent (so leaning on a neighbour's buttons produces no traffic and no
ballot). With ``false`` every press is sent with the true ``presence`` flag
and the hall applies the council's own setting.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable

from edge.discovery import NODE_SERVICE, Peer
from edge.node import RoleContext
from edge.peers import PeerClient, roster_lookup
from edge.tasks import cancel_and_wait
from edge.timeutil import iso_utc, uuid7
from voting.console.hardware import (ATTENTION, DARK, HALL_LOST, REFUSED, REGISTERED, CardReader, LightPattern,
                                     Press, SeatDevices)
from voting.console.settings import ConsoleConfig
from voting.protocol import CHOICES, CONSOLE_PATH

log = logging.getLogger("hromada.console")

HALL_SEARCH_S = 5.0


# -- what the console knows of each seat -------------------------------------------------------

@dataclass
class SeatView:
    """One seat as the hall last described it, plus the console's own counters."""

    known: bool = False        # listed in the hall's last state
    deputy: str = ""
    registered: bool = False
    choice: str | None = None
    presses: int = 0
    refusals: int = 0
    card_reads: int = 0


def status_pattern(connected: bool, view: SeatView, vote_open: bool, registration_open: bool) -> LightPattern:
    """The status LED of a seat: lost link, the hall waiting for this seat, registered, or dark."""
    if not connected:
        return HALL_LOST
    if vote_open and view.registered and view.choice is None:
        return ATTENTION
    if registration_open and not vote_open and view.known and not view.registered:
        return ATTENTION
    return REGISTERED if view.registered else DARK


class ConsoleRole:
    """The deputies' consoles of one node: seat devices, card readers, the link to the hall.

    ``voting.console.role`` builds it and then its devices, whose callbacks
    are :meth:`on_press`, :meth:`on_fault` and :meth:`on_card`, and fills
    :attr:`seats`, :attr:`readers` (real or simulated, as configured),
    :attr:`sim_readers` (the simulated ones, which the demo and the tests can
    hold a card to) and :attr:`scenario` before :meth:`start`.
    """

    name = "console"

    def __init__(self, ctx: RoleContext, config: ConsoleConfig) -> None:
        self.ctx = ctx
        self.config = config
        self.settings = config.settings
        self.connected = False
        self.vote: dict[str, Any] | None = None
        self.registration_open = False
        self.views = {s.seat: SeatView() for s in config.seats}
        self.seats: dict[str, SeatDevices] = {}
        self.readers: dict[str, CardReader] = {}
        self.sim_readers: dict[str, Any] = {}  # seat -> voting.console.sim.SimulatedCardReader (also in readers)
        self.faults: dict[tuple[str, str], str] = {}  # (seat, input) -> since (UTC ISO 8601)
        self.listeners: list[Callable[[], None]] = []  # called after every change the hall made known
        self.scenario: Any = None  # voting.console.sim.Scenario with scenario = "demo"
        self._fault_news: dict[tuple[str, str], str] = {}  # not yet told to the hall: "flapping" / "ok"
        self._pending: dict[str, str] = {}  # message id -> seat, sent and not yet answered
        self._tasks: set[asyncio.Task[Any]] = set()
        self._hall_key = roster_lookup(lambda: ctx.hub.roster, {"hall"})
        self.client = PeerClient(ctx.identity, CONSOLE_PATH, self._hall_url, self._hall_key, self._on_message,
                                 self._on_link)
        ctx.metrics.collector(self._metrics)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._refresh()
        for reader in self.readers.values():
            reader.start()
        self._spawn(self.client.run())
        if self.scenario is not None:
            self.scenario.start()

    async def stop(self) -> None:
        if self.scenario is not None:
            self.scenario.stop()
        await cancel_and_wait(list(self._tasks))
        for reader in self.readers.values():
            await reader.stop()
        self.close_devices()

    def close_devices(self) -> None:
        """Let go of the pins and the simulated readers' ptys (also after a failed start)."""
        for devices in self.seats.values():
            devices.close()
        for sim in self.sim_readers.values():
            sim.close()

    def health(self) -> dict[str, Any]:
        return {
            "hall_connected": self.connected,
            "hall": self.client.peer_id,
            "vote": (self.vote or {}).get("uid"),
            "registration_open": self.registration_open,
            "awaiting_answer": len(self._pending),
            "seats": {seat: {"deputy": v.deputy, "known_to_hall": v.known, "registered": v.registered,
                             "choice": v.choice, "status": self.seats[seat].status.pattern, "presses": v.presses,
                             "refusals": v.refusals, "card_reads": v.card_reads, "faults": self.seats[seat].faults}
                      for seat, v in self.views.items()},
            "faults": [{"seat": s, "input": i, "since": t} for (s, i), t in self.faults.items()],
            "card_readers": {seat: r.health() for seat, r in self.readers.items()},
        }

    def _metrics(self) -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        def per_seat(field: str) -> list[tuple[dict[str, str], float]]:
            return [({"seat": seat}, float(getattr(v, field))) for seat, v in self.views.items()]
        return [
            ("hromada_console_hall_connected", "gauge", "1 while the link to the hall is up.",
             [({}, 1.0 if self.connected else 0.0)]),
            ("hromada_console_presses_total", "counter", "Debounced vote-button presses.", per_seat("presses")),
            ("hromada_console_refusals_total", "counter", "Refusals shown (by the console or the hall).",
             per_seat("refusals")),
            ("hromada_console_card_reads_total", "counter", "Card presentations read.", per_seat("card_reads")),
            ("hromada_console_input_faults", "gauge", "Inputs currently ignored as flapping.",
             [({}, float(len(self.faults)))]),
            ("hromada_console_card_bad_frames_total", "counter", "RDM6300 frames refused (length, checksum).",
             [({"seat": seat}, float(r.stats.bad_frames + r.stats.bad_checksum)) for seat, r in self.readers.items()]),
        ]

    # -- the hall link ------------------------------------------------------------------------

    async def _hall_url(self) -> str:
        if self.settings.hall_url:
            return self.settings.hall_url.rstrip("/")
        discovery = self.ctx.discovery
        assert discovery is not None  # the configuration requires hall_url without discovery
        if NODE_SERVICE not in discovery.peers:
            await discovery.browse(NODE_SERVICE)

        def is_hall(peer: Peer) -> bool:  # mDNS says where; the roster says who may be the hall
            return "hall" in peer.roles and self._hall_key(peer.id) is not None
        peer = await discovery.wait_for(NODE_SERVICE, is_hall, HALL_SEARCH_S)
        if peer is None:
            raise ConnectionError("no hall of the roster found by mDNS yet")
        return peer.url

    def _on_link(self, up: bool) -> None:
        self.connected = up
        log.info("hall link %s", "up" if up else "lost")
        if up:
            self._spawn(self._say_hello())
        else:
            self._pending.clear()  # their answers will never come; the next state tells the truth
        self._refresh()

    async def _say_hello(self) -> None:
        await self._send({"type": "hello", "seats": list(self.views)})
        for (seat, name), what in list(self._fault_news.items()):
            if await self._send({"type": "fault", "seat": seat, "input": name, "what": what}):
                self._fault_news.pop((seat, name), None)

    async def _send(self, message: dict[str, Any]) -> bool:
        try:
            await self.client.send(message)
            return True
        except (ConnectionError, RuntimeError) as exc:
            log.info("not sent to the hall (%s): %s", exc, message.get("type"))
            return False

    async def _on_message(self, msg: dict[str, Any]) -> None:
        # A malformed message from the hall is logged and changes nothing; it must not drop the link.
        try:
            kind = msg.get("type")
            if kind == "state":
                self._apply_state(msg)
            elif kind == "ack":
                self._apply_ack(msg)
            elif kind == "refused":
                self._apply_refused(msg)
            elif kind == "error":
                log.warning("hall reports an error: %s %s", msg.get("code"), msg.get("message"))
            else:
                log.info("ignoring a hall message of type %r", kind)
                return
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            log.warning("ignoring a malformed %s from the hall: %s", msg.get("type"), exc)
            return
        self._refresh()
        for listener in list(self.listeners):
            listener()

    def _apply_state(self, msg: dict[str, Any]) -> None:
        vote, seats = msg.get("vote"), msg.get("seats")
        if vote is not None and not (isinstance(vote, dict) and isinstance(vote.get("uid"), str)):
            raise ValueError("vote must be null or an object with a uid")
        if not isinstance(seats, dict):
            raise ValueError("seats must be an object")
        self.vote, self.registration_open = vote, msg.get("registration_open") is True
        for seat, view in self.views.items():
            entry = seats.get(seat)
            view.known = isinstance(entry, dict)
            entry = entry if isinstance(entry, dict) else {}
            view.deputy = str(entry.get("deputy") or "")
            view.registered = entry.get("registered") is True
            view.choice = entry.get("choice") if entry.get("choice") in CHOICES else None

    def _apply_ack(self, msg: dict[str, Any]) -> None:
        self._pending.pop(str(msg.get("id")), None)
        view = self.views.get(str(msg.get("seat")))
        if view is None:
            raise ValueError(f"ack for a seat this console does not drive: {msg.get('seat')!r}")
        view.registered = True  # a ballot is accepted only from a registered deputy
        if msg.get("kind") == "ballot":
            if msg.get("choice") not in CHOICES:
                raise ValueError(f"unknown choice {msg.get('choice')!r}")
            view.choice = msg["choice"]

    def _apply_refused(self, msg: dict[str, Any]) -> None:
        self._pending.pop(str(msg.get("id")), None)
        seat = str(msg.get("seat"))
        log.info("hall refused seat %s: %s (%s)", seat, msg.get("code"), msg.get("message_en"))
        if seat in self.seats:
            self._refuse(seat)

    # -- what the devices report --------------------------------------------------------------

    def on_press(self, press: Press) -> None:
        """A debounced vote-button press at a seat (from its ``SeatDevices``, in the loop)."""
        view = self.views[press.seat]
        view.presses += 1
        if self.settings.presence_required and not press.presence:
            log.info("seat %s: %s pressed without presence: refused on the console", press.seat, press.choice)
            self._refuse(press.seat)
            return
        self._send_or_refuse(press.seat, {"type": "press", "seat": press.seat, "choice": press.choice,
                                          "presence": press.presence, "vote": (self.vote or {}).get("uid")})

    def on_card(self, seat: str, card: str) -> None:
        """A card presented at a seat's reader (in the loop)."""
        self.views[seat].card_reads += 1
        log.info("seat %s: card %s…", seat, card[:4])  # the whole id identifies a person: keep it out of logs
        self._send_or_refuse(seat, {"type": "card", "seat": seat, "card": card})

    def _send_or_refuse(self, seat: str, message: dict[str, Any]) -> None:
        if not self.connected:
            self._refuse(seat)  # never queued: a press must not arrive late
            return
        msg_id = uuid7()  # made here, unique: the hall refuses a duplicate
        self._pending[msg_id] = seat

        async def send() -> None:
            if not await self._send({**message, "id": msg_id}):
                self._pending.pop(msg_id, None)
                self._refuse(seat)
        self._spawn(send())

    def on_fault(self, seat: str, name: str, faulted: bool) -> None:
        """An input of a seat became a flapping fault, or settled again (in the loop)."""
        if faulted:
            self.faults[(seat, name)] = iso_utc()
        else:
            self.faults.pop((seat, name), None)
        what = "flapping" if faulted else "ok"
        self._fault_news[(seat, name)] = what

        async def tell() -> None:
            if self.connected and await self._send({"type": "fault", "seat": seat, "input": name, "what": what}):
                if self._fault_news.get((seat, name)) == what:
                    del self._fault_news[(seat, name)]
        self._spawn(tell())

    # -- lights --------------------------------------------------------------------------------

    def _refuse(self, seat: str) -> None:
        self.views[seat].refusals += 1
        self.seats[seat].status.flash(REFUSED)

    def _refresh(self) -> None:
        vote_open = self.vote is not None
        for seat, devices in self.seats.items():
            view = self.views[seat]
            devices.show_choice(view.choice)
            devices.status.show(status_pattern(self.connected, view, vote_open, self.registration_open))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
