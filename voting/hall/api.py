"""The hall's network face: console and screen sockets, the live feed, the secretary's API.

Consoles and hall screens are nodes and must be in the hub's roster for this
site (``edge.peers``). The secretary's page and API take a bearer token kept
in the state directory (``hromada voting secretary-link`` prints the page's
address with it); no cookies, so no cross-site request can act for them.
The overlay and its live feed are public and read-only.

A refusal (by the rules or by the hall) reaches a console as a ``refused``
message carrying :meth:`edge.errors.Refusal.to_dict`, and the secretary as the
node's one JSON error body with the refusal's status (409), raised through
``edge.web.refusals``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hmac
import io
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from edge.errors import Refusal
from edge.live import LiveFeed, staff_token
from edge.outbox import Priority
from edge.peers import NonceCache, PeerConnection, accept_peer, roster_lookup
from edge.tasks import cancel_and_wait
from edge.web import error, finite_number, json_response, parse_json, read_body
from voting import protocol
from voting.hall.model import Question
from voting.hall.service import HallService, now_utc
from voting.hall.snapshot import console_state, hall_snapshot, secretary_view
from voting.refusals import HALL
from voting.rules import Rule

log = logging.getLogger("hromada.hall")

# The inputs of a seat that can report a fault (its buttons and its presence sensor).
FAULT_INPUTS = frozenset({*protocol.BUTTON_INPUTS, "presence"})


def secretary_token(state_dir: Path) -> str:
    """The secretary's token, made on first use (mode 0600)."""
    return staff_token(state_dir / "secretary.token")


@dataclass
class ConsoleLink:
    """One connected console node: the seats it drives and the ids of its recent messages."""

    conn: PeerConnection
    name: str
    seats: set[str] = field(default_factory=set)
    recent_ids: list[str] = field(default_factory=list)
    last_state: dict[str, Any] | None = None


class HallRole:
    """The `hall` role: the service's sockets and pages (``voting.hall.role`` builds it).

    ``scenario``, when given, runs beside the service from start to stop (the
    demo's self-running sitting).
    """

    name = "hall"

    def __init__(self, service: HallService,
                 scenario: Callable[[HallService], Awaitable[None]] | None = None) -> None:
        self.service = service
        self.scenario = scenario
        ctx = service.ctx
        self.ctx = ctx
        self.consoles: dict[str, ConsoleLink] = {}
        self.screens: dict[str, PeerConnection] = {}
        self.live = LiveFeed(self.snapshot)
        self.nonces = NonceCache()
        self.token = secretary_token(ctx.config.state_dir)
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        m = ctx.metrics
        self.m_ballots = m.counter("hromada_hall_ballots_total", "Ballots committed.")
        self.m_refused = m.counter("hromada_hall_refusals_total", "Console messages refused, by code.", ["code"])
        service.listeners.append(self._dirty.set)
        r = ctx.app.router
        r.add_get(protocol.CONSOLE_PATH, self.console_ws)
        r.add_get(protocol.SCREEN_PATH, self.screen_ws)
        r.add_get(protocol.LIVE_PATH, self.live.handler)
        r.add_get("/hall/overlay", self.overlay_page)
        r.add_get("/hall/secretary", self.secretary_page)
        r.add_get("/hall/api/state", self.api_state)
        r.add_post("/hall/api/sitting", self.api_sitting)
        r.add_post("/hall/api/agenda", self.api_agenda)
        r.add_post("/hall/api/registration", self.api_registration)
        r.add_post("/hall/api/register", self.api_register)
        r.add_post("/hall/api/votes", self.api_open)
        r.add_post("/hall/api/votes/{uid}/close", self.api_close)
        r.add_post("/hall/api/votes/{uid}/cancel", self.api_cancel)
        r.add_post("/hall/api/votes/{uid}/manual", self.api_manual)

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        await self.service.start()
        self._tasks.append(asyncio.create_task(self._broadcaster(), name="hall-broadcast"))
        if self.scenario is not None:
            self._tasks.append(asyncio.create_task(self.scenario(self.service), name="hall-demo"))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        await self.live.close()
        sockets = [*(link.conn.ws for link in self.consoles.values()), *(conn.ws for conn in self.screens.values())]
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"hall stopping")
        await self.service.stop()

    def health(self) -> dict[str, Any]:
        return {**self.service.health(), "consoles": len(self.consoles), "screens": len(self.screens)}

    def snapshot(self) -> dict[str, Any]:
        s = self.service
        return hall_snapshot(s.committed, s.council, registration_open=s.registration_open, closes_at=s.closes_at(),
                             show_choices_live=s.settings.show_choices_live, seq=s._seq, at=now_utc())

    async def _broadcaster(self) -> None:
        """After each commit: one snapshot to every screen and live page, state to consoles."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            snap = self.snapshot()
            for node_id, conn in list(self.screens.items()):
                with contextlib.suppress(Exception):
                    await conn.send(snap)
            await self.live.broadcast(snap)
            for link in list(self.consoles.values()):
                await self._send_state(link, only_if_changed=True)

    async def _send_state(self, link: ConsoleLink, only_if_changed: bool = False) -> None:
        """Send a console its state; after ballots only the consoles whose seats changed hear of it."""
        s = self.service
        state = console_state(s.committed, s.council, link.seats, s.registration_open)
        if only_if_changed and state == link.last_state:
            return
        link.last_state = state
        with contextlib.suppress(Exception):
            await link.conn.send(state)

    # -- consoles ------------------------------------------------------------------

    def _roster_name(self, node_id: str) -> str:
        for peer in self.ctx.hub.roster:
            if peer.get("node_id") == node_id:
                return str(peer.get("name", ""))
        return ""

    async def console_ws(self, request: web.Request) -> web.StreamResponse:
        conn = await accept_peer(request, self.ctx.identity, roster_lookup(lambda: self.ctx.hub.roster, {"console"}),
                                 self.nonces)
        link = ConsoleLink(conn, self._roster_name(conn.node_id))
        old = self.consoles.pop(conn.node_id, None)
        if old is not None:
            await old.conn.ws.close()
        self.consoles[conn.node_id] = link
        log.info("console %s (%s) connected", link.name, conn.node_id)
        try:
            async for message in conn.messages():
                await self._on_console(link, message)
        finally:
            if self.consoles.get(conn.node_id) is link:
                del self.consoles[conn.node_id]
            log.info("console %s disconnected", link.name)
        return conn.ws

    async def _on_console(self, link: ConsoleLink, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        msg_id = str(msg.get("id", ""))
        seat = str(msg.get("seat", ""))
        try:
            if kind == "hello":
                await self._hello(link, msg)
                return
            if kind == "fault":
                await self._fault(link, msg)
                return
            if kind not in ("press", "card"):
                raise HALL.refuse("bad_message", what=f"unknown type {kind!r}")
            if not msg_id or len(msg_id) > 64:
                raise HALL.refuse("bad_message", what="id is required")
            if msg_id in link.recent_ids:
                raise HALL.refuse("duplicate")
            link.recent_ids = (link.recent_ids + [msg_id])[-256:]
            if seat not in link.seats:
                raise HALL.refuse("not_your_seat", seat=seat)
            assignment = self.service.council.by_seat(seat)
            assert assignment is not None  # hello admitted only seats of the plan
            if kind == "card":
                await self._card(link, msg_id, seat, str(msg.get("card", "")).upper(), assignment.voter_id)
            else:
                await self._press(link, msg, msg_id, seat, assignment.voter_id)
        except Refusal as exc:  # by the hall or by the rules: nothing was recorded
            await self._refuse(link, msg_id, seat, exc)

    async def _hello(self, link: ConsoleLink, msg: dict[str, Any]) -> None:
        seats = msg.get("seats")
        if not isinstance(seats, list):
            raise HALL.refuse("bad_message", what="seats must be a list")
        accepted = set()
        for seat in map(str, seats):
            a = self.service.council.by_seat(seat)
            # A seat's console is named in the council file by its node id or by its name at the hub
            # (names are unique per site: the hub refuses a second one).
            if a is None or a.console not in (link.conn.node_id, link.name):
                await self._refuse(link, "", seat, HALL.refuse("not_your_seat", seat=seat))
                continue
            accepted.add(seat)
        link.seats = accepted
        await self._send_state(link)

    async def _press(self, link: ConsoleLink, msg: dict[str, Any], msg_id: str, seat: str, voter_id: str) -> None:
        s = self.service
        state = s.state
        if state is None:
            raise HALL.refuse("no_sitting")
        if state.current_vote is not None:
            if s.settings.presence_required and msg.get("presence") is not True:
                raise HALL.refuse("presence_required")
            choice = str(msg.get("choice", ""))
            vote = msg.get("vote")
            await s.ballot(str(vote) if vote else None, voter_id, choice, console=link.conn.node_id)
            self.m_ballots.inc()
            await link.conn.send({"type": "ack", "id": msg_id, "seat": seat, "kind": "ballot", "choice": choice})
            return
        if not s.registration_open:
            raise HALL.refuse("registration_closed")
        if s.settings.presence_required and msg.get("presence") is not True:
            raise HALL.refuse("presence_required")
        await s.register(voter_id, True, None)
        await link.conn.send({"type": "ack", "id": msg_id, "seat": seat, "kind": "registered"})

    async def _card(self, link: ConsoleLink, msg_id: str, seat: str, card: str, voter_id: str) -> None:
        owner = self.service.council.by_card(card)
        if owner is None:
            raise HALL.refuse("unknown_card")
        if owner.seat != seat:
            log.warning("card of seat %s presented at seat %s (console %s)", owner.seat, seat, link.name)
            raise HALL.refuse("card_other_seat", other=owner.seat)
        await self.service.register(voter_id, True, None)
        await link.conn.send({"type": "ack", "id": msg_id, "seat": seat, "kind": "registered"})

    async def _fault(self, link: ConsoleLink, msg: dict[str, Any]) -> None:
        seat, what, inp = str(msg.get("seat", "")), str(msg.get("what", "")), str(msg.get("input", ""))
        # Only inputs a console has, at its own seats: a console cannot open alerts without end.
        if seat not in link.seats:
            raise HALL.refuse("not_your_seat", seat=seat[:16])
        if inp not in FAULT_INPUTS or what not in ("flapping", "ok"):
            raise HALL.refuse("bad_message", what="fault names an input the console does not have")
        log.warning("console %s seat %s input %s: %s", link.name, seat, inp, what)
        await self.ctx.outbox.put("alert", {
            "key": f"console:{link.name}:{seat}:{inp}", "state": "raised" if what != "ok" else "cleared",
            "severity": "warning",
            "message": f"Пульт «{link.name}», місце {seat}: несправний вхід «{inp}» ({what})",
            "message_en": f"Console '{link.name}', seat {seat}: faulty input '{inp}' ({what})"}, Priority.CRITICAL)

    async def _refuse(self, link: ConsoleLink, msg_id: str, seat: str, refusal: Refusal) -> None:
        code = str(refusal.code)
        self.m_refused.labels(code=code).inc()
        log.info("refused console %s seat %s: %s", link.name, seat, code)
        with contextlib.suppress(Exception):
            await link.conn.send({"type": "refused", "id": msg_id, "seat": seat, **refusal.to_dict()})

    # -- screens and the live feed ----------------------------------------------------

    async def screen_ws(self, request: web.Request) -> web.StreamResponse:
        conn = await accept_peer(request, self.ctx.identity,
                                 roster_lookup(lambda: self.ctx.hub.roster, {"hall-display"}), self.nonces)
        self.screens[conn.node_id] = conn
        try:
            await conn.send(self.snapshot())
            async for _ in conn.messages():
                pass
        finally:
            self.screens.pop(conn.node_id, None)
        return conn.ws

    async def overlay_page(self, request: web.Request) -> web.StreamResponse:
        return _static("overlay.html")

    # -- the secretary -------------------------------------------------------------------

    async def secretary_page(self, request: web.Request) -> web.StreamResponse:
        return _static("secretary.html")

    def _authorize(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not hmac.compare_digest(header[7:].strip(), self.token):
            raise HALL.refuse("unauthorized")

    async def _body(self, request: web.Request) -> dict[str, Any]:
        self._authorize(request)
        data = parse_json(await read_body(request))
        if not isinstance(data, dict):
            raise error(400, "bad_request", "body must be a JSON object")
        return data

    async def _act(self, make: Any) -> web.Response:
        """Run one secretary action; bad input is a 400, a refusal (by the rules or the hall) its own 409.

        A :class:`~edge.errors.Refusal` passes through: the node's ``refusals``
        middleware answers it with its status and the one error body.
        """
        try:
            result = await make()
        except KeyError as exc:
            raise error(400, "bad_request", f"missing field {exc}") from None
        except (ValueError, TypeError, IndexError) as exc:
            raise error(400, "bad_request", str(exc)) from None
        return json_response({"ok": True, "result": result, "state": self.snapshot()})

    async def api_state(self, request: web.Request) -> web.Response:
        self._authorize(request)
        s = self.service
        agenda = [{**q, "rule_text": Question.from_dict(q).rule.describe()} for q in s.agenda]
        return json_response({"snapshot": self.snapshot(), "agenda": agenda,
                              **secretary_view(s.committed, s.council),
                              "consoles": sorted(link.name for link in self.consoles.values())})

    async def api_sitting(self, request: web.Request) -> web.Response:
        d = await self._body(request)
        return await self._act(lambda: _started(self.service.start_sitting(
            int(d["session"]), date.fromisoformat(d["date"]) if d.get("date") else None,
            d.get("head_takes_part"), d.get("convocation"))))

    async def api_agenda(self, request: web.Request) -> web.Response:
        self._authorize(request)
        body = await read_body(request) if request.content_type == "application/json" else await request.read()
        try:
            questions = parse_agenda(body, request.content_type)
        except ValueError as exc:
            raise error(400, "bad_agenda", str(exc)) from None
        return await self._act(lambda: self.service.set_agenda(questions))

    async def api_registration(self, request: web.Request) -> web.Response:
        d = await self._body(request)
        return await self._act(lambda: self.service.set_registration(bool(d["open"])))

    async def api_register(self, request: web.Request) -> web.Response:
        d = await self._body(request)
        return await self._act(lambda: self.service.register(str(d["voter_id"]), bool(d.get("present", True)),
                                                     _operator(d)))

    async def api_open(self, request: web.Request) -> web.Response:
        d = await self._body(request)

        def open_() -> Any:
            if "agenda_index" in d:
                index, agenda = d["agenda_index"], self.service.agenda
                # -1 was Python's "the last one": a vote on a question nobody chose.
                if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(agenda):
                    raise error(400, "bad_request", f"Номер питання порядку денного має бути від 0 до "
                                f"{len(agenda) - 1}", message_en=f"agenda_index must be 0 to {len(agenda) - 1}")
                question = Question.from_dict(agenda[index])
            else:
                question = Question.from_dict(parse_question(d["question"], 1))
            duration = finite_number(d, "duration_s", -1.0, 0.0, 24 * 3600.0) if d.get("duration_s") is not None \
                else None
            return self.service.open_vote(question, duration, _text(d, "quorum_override_by", 80) or None)

        return await self._act(open_)

    async def api_close(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return await self._act(lambda: self.service.close_vote(request.match_info["uid"]))

    async def api_cancel(self, request: web.Request) -> web.Response:
        d = await self._body(request)
        return await self._act(lambda: self.service.cancel_vote(request.match_info["uid"], _text(d, "reason", 500),
                                                        _operator(d)))

    async def api_manual(self, request: web.Request) -> web.Response:
        d = await self._body(request)
        return await self._act(lambda: self.service.manual_entry(request.match_info["uid"], str(d["voter_id"]),
                                                         str(d["choice"]), _operator(d), _text(d, "reason", 500)))


def _operator(d: dict[str, Any]) -> str:
    who = _text(d, "operator", 80)
    if not who:
        raise HALL.refuse("operator_required")
    return who


def _text(d: dict[str, Any], key: str, limit: int) -> str:
    """A person's words for the journal: refused, not cut, when too long or holding control characters."""
    value = d.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise error(400, "bad_request", f"«{key}» має бути текстом", message_en=f"{key} must be text")
    value = value.strip()
    if len(value) > limit:
        raise error(400, "too_long", f"«{key}» довше за {limit} символів", message_en=f"{key} is longer than {limit}")
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise error(400, "bad_request", f"«{key}» містить керівні символи",
                    message_en=f"{key} holds control characters")
    return value


async def _started(coro: Any) -> dict[str, Any]:
    state = await coro
    return {"session": state.sitting.session, "date": state.sitting.date.isoformat()}


def _static(name: str) -> web.Response:
    text = resources.files("voting.hall").joinpath("ui", name).read_text(encoding="utf-8")
    return web.Response(text=text, content_type="text/html", charset="utf-8")


AGENDA_COLUMNS = ("number", "title", "project_number", "rule")
RULES = {"": Rule.majority_of_total, "majority_of_total": Rule.majority_of_total,
         "two_thirds_of_total": Rule.two_thirds_of_total, "majority_of_registered": Rule.majority_of_registered}


def parse_agenda(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """An agenda from CSV (number,title,project_number,rule) or JSON (a list of questions)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("agenda must be UTF-8 text") from None
    if content_type == "application/json":
        items = json.loads(text)
        if not isinstance(items, list):
            raise ValueError("a JSON agenda is a list of questions")
    else:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or not {"number", "title"} <= set(reader.fieldnames):
            raise ValueError("CSV agenda needs columns: number,title[,project_number,rule]")
        items = list(reader)
    questions = [parse_question(item, i) for i, item in enumerate(items, start=1)]
    if not questions:
        raise ValueError("the agenda is empty")
    return questions


def parse_question(item: Any, i: int) -> dict[str, Any]:
    """One agenda question from a CSV row or a JSON object, as ``Question.to_dict()``."""
    if not isinstance(item, dict) or not str(item.get("number", "")).strip() or not str(item.get("title", "")).strip():
        raise ValueError(f"question {i}: number and title are required")
    rule_name = item.get("rule") or ""
    if isinstance(rule_name, dict):
        rule = Rule.from_dict(rule_name)
    elif str(rule_name) in RULES:
        rule = RULES[str(rule_name)]()
    else:
        raise ValueError(f"question {i}: unknown rule {rule_name!r}; use one of {', '.join(k for k in RULES if k)}")
    return Question(number=str(item["number"]).strip(), title=str(item["title"]).strip(),
                    project_number=str(item.get("project_number") or "").strip(), rule=rule).to_dict()
