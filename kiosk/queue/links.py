"""The queue's sockets: kiosks and calling screens (sealed peer links) and the public live feed.

:class:`KioskDesk` answers the kiosk's requests of ``kiosk.protocol``; the
demo's simulated visitors go through the same desk, so they exercise the
very path a kiosk takes. :class:`QueueLinks` keeps the sockets and, after
every commit, sends one board snapshot to every screen and live page and a
fresh menu to kiosks whose menu changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.parse
from typing import Any

from aiohttp import web

from edge.live import LiveFeed
from edge.peers import NonceCache, PeerConnection, accept_peer, roster_lookup
from kiosk import protocol
from edge.errors import Refusal
from edge.tasks import cancel_and_wait
from kiosk.errors import ServiceRefusal
from kiosk.queue.service import QueueService
from kiosk.queue.views import board, estimate_view, menu, ticket_view
from kiosk.queue.stats import Feedback
from kiosk.queue.tickets import Ticket, TicketState

log = logging.getLogger("hromada.queue")

MENU_REFRESH_S = 30.0  # working hours open and close without any event


def status_path(ticket: Ticket) -> str:
    """``/queue/ticket/2026-03-03/%D0%90042``: the ticket's public status page."""
    return f"/queue/ticket/{ticket.day.isoformat()}/{urllib.parse.quote(ticket.label)}"


def refusal_message(request_id: Any, refusal: Refusal) -> dict[str, Any]:
    """A refusal on a socket: ``{"type": "refused", "id", "code", "message", "message_en", "details"}``."""
    return {"type": "refused", "id": request_id, **refusal.to_dict()}


def feedback_from(service: QueueService, message: dict[str, Any]) -> Feedback:
    """A rating from a request; a named ticket gives the service and the window."""
    ticket_id = message.get("ticket")
    window = message.get("window")
    if ticket_id:
        t = service.view().ticket(str(ticket_id))
        service_id, window = t.service_id, t.window
    else:
        service_id = str(message.get("service") or "")
        if not service_id:
            raise ServiceRefusal(protocol.Refusal.BAD_REQUEST, "Вкажіть талон або послугу, яку оцінюєте.")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int)):
            raise ServiceRefusal(protocol.Refusal.BAD_REQUEST, "Номер вікна має бути цілим числом.")
    return Feedback(service.clock(), service_id, window, str(ticket_id) if ticket_id else None,
                    message.get("grade") or None, message.get("loyalty"))


class KioskDesk:
    """Answers one kiosk request at a time, as ``kiosk.protocol`` describes."""

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self.refusals: dict[str, int] = {}

    def menu(self, request_id: str | None = None) -> dict[str, Any]:
        s = self.service
        return menu(s.view(), s.names, s.seq, s.clock(), request_id)

    async def handle(self, message: dict[str, Any], kiosk_id: str, base_url: str) -> dict[str, Any]:
        kind = message.get("type")
        request_id = message.get("id")
        try:
            if kind == "menu":
                return self.menu(request_id if isinstance(request_id, str) else None)
            if not isinstance(request_id, str) or not 1 <= len(request_id) <= 64:
                raise ServiceRefusal(protocol.Refusal.BAD_MESSAGE, "Запит без ідентифікатора (id).")
            origin = f"{kiosk_id}:{request_id}"
            if kind == "issue":
                person = message.get("person")
                ticket, repeat = await self.service.issue(str(message.get("service") or ""),
                                                          str(message.get("lane") or "walk_in"),
                                                          str(person) if person else None, origin)
                return self.issued(request_id, ticket, repeat, base_url)
            if kind == "check_in":
                ticket, repeat = await self.service.check_in(str(message.get("code") or ""), origin)
                return self.issued(request_id, ticket, repeat, base_url)
            if kind == "estimate":
                s = self.service
                e = s.view().estimate_new(str(message.get("service") or ""), s.clock())
                return {"type": "estimate", "id": request_id, "service": message.get("service"),
                        "estimate": estimate_view(e)}
            if kind == "rate":
                await self.service.rate(feedback_from(self.service, message), f"kiosk:{kiosk_id}")
                return {"type": "rated", "id": request_id}
            raise ServiceRefusal(protocol.Refusal.BAD_MESSAGE, f"Невідомий тип повідомлення «{kind}».")
        except Refusal as exc:  # QueueError, ServiceRefusal
            return self._refused(request_id, exc)

    def issued(self, request_id: str, ticket: Ticket, repeat: bool, base_url: str) -> dict[str, Any]:
        s = self.service
        q = s.view()
        estimate = q.estimate(ticket.id, s.clock()) if ticket.state is TicketState.WAITING else None
        return {"type": "issued", "id": request_id, "repeat": repeat, "ticket": ticket_view(ticket, q),
                "estimate": None if estimate is None else estimate_view(estimate),
                "status_url": (s.settings.public_url or base_url).rstrip("/") + status_path(ticket)}

    def _refused(self, request_id: Any, refusal: Refusal) -> dict[str, Any]:
        code = str(refusal.code)
        self.refusals[code] = self.refusals.get(code, 0) + 1
        return refusal_message(request_id, refusal)


class QueueLinks:
    """Kiosk, screen and live sockets, and the broadcaster that feeds them."""

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self.ctx = service.ctx
        self.desk = KioskDesk(service)
        self.kiosks: dict[str, PeerConnection] = {}
        self.screens: dict[str, PeerConnection] = {}
        self.live = LiveFeed(self.board)
        self.nonces = NonceCache()
        self._menus: dict[str, str] = {}
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        service.listeners.append(self._dirty.set)

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(protocol.KIOSK_PATH, self.kiosk_ws)
        router.add_get(protocol.SCREEN_PATH, self.screen_ws)
        router.add_get(protocol.LIVE_PATH, self.live.handler)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._broadcaster(), name="queue-broadcast")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        await self.live.close()
        for ws in [*(c.ws for c in self.kiosks.values()), *(c.ws for c in self.screens.values())]:
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"queue stopping")

    def board(self) -> dict[str, Any]:
        s = self.service
        return board(s.view(), s.names, s.seq, s.clock())

    async def _broadcaster(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), MENU_REFRESH_S)
            changed = self._dirty.is_set()
            self._dirty.clear()
            try:
                if changed:
                    await self._send_board()
                await self._send_menus()
            except Exception:
                log.exception("broadcast failed")

    async def _send_board(self) -> None:
        snap = self.board()
        for conn in list(self.screens.values()):
            with contextlib.suppress(Exception):
                await conn.send(snap)
        await self.live.broadcast(snap)

    async def _send_menus(self, only: str | None = None) -> None:
        """A kiosk hears of the menu only when what it shows changed (not its time stamp)."""
        if not self.kiosks:
            return
        current = self.desk.menu()
        key = json.dumps({k: v for k, v in current.items() if k not in ("at", "seq")}, ensure_ascii=False)
        for node_id, conn in list(self.kiosks.items()):
            if (only is None or node_id == only) and self._menus.get(node_id) != key:
                self._menus[node_id] = key
                with contextlib.suppress(Exception):
                    await conn.send(current)

    async def kiosk_ws(self, request: web.Request) -> web.StreamResponse:
        conn = await accept_peer(request, self.ctx.identity,
                                 roster_lookup(lambda: self.ctx.hub.roster, {"kiosk"}), self.nonces)
        old = self.kiosks.pop(conn.node_id, None)
        if old is not None:
            await old.ws.close()
        self.kiosks[conn.node_id] = conn
        self._menus.pop(conn.node_id, None)
        base = f"{request.scheme}://{request.host}"
        log.info("kiosk %s connected", conn.node_id)
        try:
            await self._send_menus(only=conn.node_id)
            async for message in conn.messages():
                answer = await self.desk.handle(message, conn.node_id, base)
                await conn.send(answer)
        finally:
            if self.kiosks.get(conn.node_id) is conn:
                del self.kiosks[conn.node_id]
            log.info("kiosk %s disconnected", conn.node_id)
        return conn.ws

    async def screen_ws(self, request: web.Request) -> web.StreamResponse:
        conn = await accept_peer(request, self.ctx.identity,
                                 roster_lookup(lambda: self.ctx.hub.roster, {"queue-display"}), self.nonces)
        self.screens[conn.node_id] = conn
        log.info("calling screen %s connected", conn.node_id)
        try:
            await conn.send(self.board())
            async for _ in conn.messages():
                pass
        finally:
            if self.screens.get(conn.node_id) is conn:
                del self.screens[conn.node_id]
            log.info("calling screen %s disconnected", conn.node_id)
        return conn.ws

    def counts(self) -> dict[str, int]:
        return {"kiosks": len(self.kiosks), "screens": len(self.screens), "live": len(self.live.viewers)}

