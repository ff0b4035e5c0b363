"""The queue's HTTP face: operator pages, the staff API, public ticket pages, statistics.

Staff (operators, the administrator) send ``Authorization: Bearer <token>``;
the token lives in ``staff.token`` in the state directory, made on first
use (mode 0600); the operator page takes it from the link's ``#token=``
and keeps it in the tab only. No cookies, so no other site can act for a
logged-in operator. The ticket pages, the menu and the live feed are public
and carry nothing personal. Every refusal is JSON
``{"error": {"code", "message", "message_en", "details"}}`` and changes nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import date
from importlib import resources
from typing import Any, Awaitable, Callable, Protocol

from aiohttp import web

from edge.live import staff_token
from edge.errors import Refusal
from edge.web import MAX_BODY, json_response, refusal_http
from kiosk import protocol
from kiosk.queue import report
from kiosk.queue.bookings import BookingFormatError, booking_from, parse_import
from kiosk.errors import ServiceRefusal
from kiosk.queue.events import encode
from kiosk.queue.calendar import QueueCalendar
from kiosk.queue.links import KioskDesk, QueueLinks, feedback_from
from kiosk.queue.service import QueueService
from kiosk.queue.views import operator_view, state_view, ticket_status, ticket_view, window_view
from kiosk.queue.tickets import PauseReason

log = logging.getLogger("hromada.queue")

TOKEN_FILE = "staff.token"


def refused(code: str, message: str, details: dict[str, Any] | None = None) -> web.HTTPException:
    """The HTTP error of a refusal: the one error body, with the status ``kiosk.errors`` assigns the code."""
    return refusal_http(ServiceRefusal(code, message, **(details or {})))


def bad(message: str) -> web.HTTPException:
    return refused(protocol.Refusal.BAD_REQUEST, message)


PAUSE_REASONS = {r.name.lower(): r for r in PauseReason} | {r.value: r for r in PauseReason}

# Window actions of the operator page and API: name → the model's command.
WINDOW_ACTIONS: dict[str, Callable[..., Any]] = {
    "open": lambda q, now, n, d: q.open_window(n, now),
    "close": lambda q, now, n, d: q.close_window(n, now),
    "pause": lambda q, now, n, d: q.pause_window(n, now, _text(d, "reason", 200)),
    "resume": lambda q, now, n, d: q.resume_window(n, now),
    "call-next": lambda q, now, n, d: q.call_next(n, now),
    "recall": lambda q, now, n, d: q.recall(n, now, _ticket(d)),
    "no-show": lambda q, now, n, d: q.mark_no_show(n, now, _ticket(d)),
    "start": lambda q, now, n, d: q.start(n, now, _ticket(d)),
    "finish": lambda q, now, n, d: q.finish(n, now, _ticket(d)),
    "redirect": lambda q, now, n, d: q.redirect(n, now, to_service=d.get("to_service") or None,
                                                to_window=_int_or_none(d.get("to_window")),
                                                comment=_text(d, "comment", 500), ticket_id=_ticket(d)),
}


def _text(d: dict[str, Any], key: str, limit: int) -> str:
    value = d.get(key, "")
    if not isinstance(value, str):
        raise bad(f"Поле {key} має бути текстом.")
    return value.strip()[:limit]


def _ticket(d: dict[str, Any]) -> str | None:
    value = d.get("ticket_id")
    return None if value in (None, "") else str(value)


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad(f"Номер вікна «{value}» має бути цілим числом.") from None


class Scenario(Protocol):
    """A scripted day played on the running queue (the demo's :class:`kiosk.queue.scenario.DemoDay`)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class QueueRole:
    """The `queue` role: the service, its clock, its sockets and its HTTP routes.

    Composed by :func:`kiosk.queue.role.create`; ``scenario``, when given, is
    made from the service and the kiosk desk once the queue has started.
    """

    name = "queue"

    def __init__(self, service: QueueService, links: QueueLinks, calendar: QueueCalendar,
                 scenario: Callable[[QueueService, KioskDesk], Scenario] | None = None) -> None:
        self.service = service
        self.ctx = service.ctx
        self.links = links
        self.calendar = calendar
        self.token = staff_token(self.ctx.config.state_dir / TOKEN_FILE)
        self._make_scenario = scenario
        self._scenario: Scenario | None = None
        m = self.ctx.metrics
        self.m_requests = m.counter("hromada_queue_commands_total", "Staff commands accepted, by action.", ["action"])
        self.m_refused = m.counter("hromada_queue_refusals_total", "Requests refused, by code.", ["code"])
        m.collector(self._collect)
        r = self.ctx.app.router
        self.links.routes(r)
        r.add_get("/queue/operator/{window}", self.operator_page)
        r.add_get("/queue/ticket/{day}/{label}", self.ticket_page)
        r.add_get("/queue/api/menu", self.api_menu)
        r.add_get("/queue/api/board", self.api_board)
        r.add_get("/queue/api/ticket/{day}/{label}", self.api_ticket)
        r.add_post("/queue/api/ticket/{day}/{label}/rating", self.api_ticket_rating)
        r.add_get("/queue/api/state", self.api_state)
        r.add_get("/queue/api/windows/{window}", self.api_window)
        r.add_post("/queue/api/windows/{window}/{action}", self.api_window_action)
        r.add_post("/queue/api/tickets", self.api_issue)
        r.add_post("/queue/api/check-in", self.api_check_in)
        r.add_get("/queue/api/bookings", self.api_bookings)
        r.add_post("/queue/api/bookings", self.api_add_bookings)
        r.add_post("/queue/api/bookings/import", self.api_import_bookings)
        r.add_post("/queue/api/pause", self.api_pause)
        r.add_post("/queue/api/resume", self.api_resume)
        r.add_post("/queue/api/rollover", self.api_rollover)
        r.add_get("/queue/api/stats", self.api_stats)
        r.add_get("/queue/api/stats.csv", self.api_stats_csv)

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.service.start()
        await self.calendar.start()
        await self.links.start()
        if self._make_scenario is not None:
            self._scenario = self._make_scenario(self.service, self.links.desk)
            self._scenario.start()

    async def stop(self) -> None:
        if self._scenario is not None:
            await self._scenario.stop()
        await self.links.stop()
        await self.calendar.stop()
        await self.service.stop()

    def health(self) -> dict[str, Any]:
        return {**self.service.health(), **self.links.counts()}

    def _collect(self) -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        h = self.service.health()
        return [
            ("hromada_queue_waiting", "gauge", "Tickets waiting in the line.", [({}, h.get("waiting") or 0)]),
            ("hromada_queue_windows_open", "gauge", "Windows open.", [({}, h.get("windows_open") or 0)]),
            ("hromada_queue_paused", "gauge", "1 while the whole queue is paused.", [({}, 1 if h.get("paused") else 0)]),
            ("hromada_queue_kiosks", "gauge", "Kiosks connected.", [({}, len(self.links.kiosks))]),
            ("hromada_queue_screens", "gauge", "Calling screens connected.", [({}, len(self.links.screens))]),
        ]

    # --- plumbing --------------------------------------------------------------------------

    def _authorize(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not hmac.compare_digest(header[7:].strip(), self.token):
            raise refused(protocol.Refusal.UNAUTHORIZED, "Потрібен ключ працівника ЦНАП.")

    async def _json(self, request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise bad("Надішліть JSON (Content-Type: application/json).")
        data = await self._read(request)
        try:
            value = json.loads(data.decode("utf-8")) if data.strip() else {}
        except (UnicodeDecodeError, ValueError):
            raise bad("Тіло запиту — не JSON у UTF-8.") from None
        if not isinstance(value, dict):
            raise bad("Тіло запиту має бути об'єктом JSON.")
        return value

    async def _read(self, request: web.Request) -> bytes:
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise refused(protocol.Refusal.BAD_REQUEST, f"Запит більший за {request.app[MAX_BODY]} байтів.") from None

    async def _act(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run one command; a refusal becomes the HTTP error of its code."""
        try:
            return await make()
        except Refusal as exc:  # QueueError, ServiceRefusal
            self.m_refused.labels(code=str(exc.code)).inc()
            raise refusal_http(exc) from None

    def _window(self, request: web.Request) -> int:
        try:
            return int(request.match_info["window"])
        except ValueError:
            raise refused(protocol.Refusal.NOT_FOUND, "Такого вікна немає.") from None

    def _ticket_id(self, request: web.Request) -> str:
        return f"{request.match_info['day']}/{request.match_info['label']}"

    def _base(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    # --- public ------------------------------------------------------------------------------

    async def operator_page(self, request: web.Request) -> web.StreamResponse:
        return _static("operator.html")

    async def ticket_page(self, request: web.Request) -> web.StreamResponse:
        return _static("ticket.html")

    async def api_menu(self, request: web.Request) -> web.Response:
        return json_response(await self._act(lambda: _now(self.links.desk.menu)))

    async def api_board(self, request: web.Request) -> web.Response:
        return json_response(await self._act(lambda: _now(self.links.board)))

    async def api_ticket(self, request: web.Request) -> web.Response:
        s = self.service

        async def view() -> dict[str, Any]:
            q = s.view()
            t = q.ticket(self._ticket_id(request))
            return ticket_status(q, t, s.clock(), t.id not in s.rated and t.state.value == "done", s.names)
        return json_response(await self._act(view))

    async def api_ticket_rating(self, request: web.Request) -> web.Response:
        d = await self._json(request)
        d["ticket"] = self._ticket_id(request)
        await self._act(lambda: self.service.rate(feedback_from(self.service, d), "web"))
        return json_response({"ok": True})

    # --- staff ---------------------------------------------------------------------------------

    async def api_state(self, request: web.Request) -> web.Response:
        self._authorize(request)
        s = self.service
        return json_response(await self._act(lambda: _now(lambda: state_view(s.view(), s.clock()))))

    async def api_window(self, request: web.Request) -> web.Response:
        self._authorize(request)
        s, n = self.service, self._window(request)
        return json_response(await self._act(lambda: _now(lambda: operator_view(s.view(), n, s.clock()))))

    async def api_window_action(self, request: web.Request) -> web.Response:
        self._authorize(request)
        s, n = self.service, self._window(request)
        action = WINDOW_ACTIONS.get(request.match_info["action"])
        if action is None:
            raise refused(protocol.Refusal.NOT_FOUND, f"Невідома дія «{request.match_info['action']}».",
                          {"actions": sorted(WINDOW_ACTIONS)})
        d = await self._json(request)
        result = await self._act(lambda: s.run(lambda q, now: action(q, now, n, d)))
        self.m_requests.labels(action=request.match_info["action"]).inc()
        q = s.view()
        ticket = ticket_view(q.ticket(result.id), q) if hasattr(result, "label") else None
        # The page re-reads its whole view (GET windows/<n>) when the live feed says something changed.
        return json_response({"ok": True, "ticket": ticket, "window": window_view(q.window(n), q)})

    async def api_issue(self, request: web.Request) -> web.Response:
        self._authorize(request)
        d = await self._json(request)
        person = d.get("person")
        ticket, _ = await self._act(lambda: self.service.issue(str(d.get("service") or ""),
                                                               str(d.get("lane") or "walk_in"),
                                                               str(person) if person else None))
        return json_response(self.links.desk.issued("", ticket, False, self._base(request)))

    async def api_check_in(self, request: web.Request) -> web.Response:
        self._authorize(request)
        d = await self._json(request)
        ticket, _ = await self._act(lambda: self.service.check_in(str(d.get("code") or "")))
        return json_response(self.links.desk.issued("", ticket, False, self._base(request)))

    async def api_bookings(self, request: web.Request) -> web.Response:
        self._authorize(request)
        items = [{"code": b.code, "service": b.service_id, "slot_start": encode(b.slot_start),
                  "ticket": used} for b, used in self.service.view().bookings()]
        return json_response({"bookings": items})

    async def api_add_bookings(self, request: web.Request) -> web.Response:
        """One booking (an object) or several (a list) from the booking API."""
        self._authorize(request)
        if request.content_type != "application/json":
            raise bad("Надішліть JSON (Content-Type: application/json).")
        return await self._import(request, "application/json")

    async def api_import_bookings(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return await self._import(request, request.content_type)

    async def _import(self, request: web.Request, content_type: str) -> web.Response:
        body = await self._read(request)
        tz = self.service.config.timezone
        try:
            if content_type == "application/json" and body.lstrip()[:1] == b"{" and b'"bookings"' not in body:
                one = json.loads(body.decode("utf-8"))
                bookings = [booking_from(one, 1, tz)]
            else:
                bookings = parse_import(body, content_type, tz)
        except BookingFormatError as exc:
            raise refused(protocol.Refusal.BAD_BOOKING, str(exc), {"line": exc.line}) from None
        except ValueError as exc:
            raise refused(protocol.Refusal.BAD_BOOKING, f"Імпорт записів: {exc}") from None
        added = await self._act(lambda: self.service.add_bookings(bookings))
        return json_response({"ok": True, "bookings": [
            {"code": b.code, "service": b.service_id, "slot_start": encode(b.slot_start)} for b in added]})

    async def api_pause(self, request: web.Request) -> web.Response:
        self._authorize(request)
        d = await self._json(request)
        reason = PAUSE_REASONS.get(str(d.get("reason", "")))
        if reason is None:
            raise bad("Причина призупинення: " + ", ".join(r.name.lower() for r in PauseReason) + ".")
        await self._act(lambda: self.service.pause(reason, _text(d, "note", 200)))
        return json_response({"ok": True, "board": self.links.board()})

    async def api_resume(self, request: web.Request) -> web.Response:
        self._authorize(request)
        await self._act(self.service.resume)
        return json_response({"ok": True, "board": self.links.board()})

    async def api_rollover(self, request: web.Request) -> web.Response:
        self._authorize(request)
        d = await self._json(request)
        day = _day(d.get("day")) or self.service.clock().astimezone(self.service.config.timezone).date()
        rolled = await self._act(lambda: self.service.roll_over(day))
        return json_response({"ok": True, "day": day.isoformat(), "carried": list(rolled.carried),
                              "expired": list(rolled.expired)})

    async def api_stats(self, request: web.Request) -> web.Response:
        self._authorize(request)
        day = self._stats_day(request)
        visits, feedback = await self.service.day_data(day)
        return json_response(report.report(day, visits, feedback, self.service.config.timezone))

    async def api_stats_csv(self, request: web.Request) -> web.Response:
        self._authorize(request)
        day = self._stats_day(request)
        try:
            what = report.Export(request.query.get("what", "visits"))
        except ValueError:
            raise bad("what: " + ", ".join(e.value for e in report.Export)) from None
        visits, feedback = await self.service.day_data(day)
        text = report.export_csv(what, visits, feedback, self.service.config.timezone)
        name = f"cnap-{day.isoformat()}-{what.value}.csv"
        return web.Response(text=text, content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})

    def _stats_day(self, request: web.Request) -> date:
        return _day(request.query.get("day")) or self.service.view().day


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise bad(f"День «{value}» має бути у форматі РРРР-ММ-ДД.") from None


async def _now(make: Callable[[], Any]) -> Any:
    return make()


def _static(name: str) -> web.Response:
    text = resources.files("kiosk.queue").joinpath("ui", name).read_text(encoding="utf-8")
    return web.Response(text=text, content_type="text/html", charset="utf-8")
