"""What the self-service kiosk does with a tap: the screens and their rules, no I/O.

:class:`KioskFlow` is the functional core of the `kiosk` role. It is told
what happened (a tap on a button, an answer from the queue, a print result,
the clock) and answers with the requests the shell must send (:class:`Request`).
It never makes a ticket up: a ticket is shown only when the queue sent one.

Rules kept here, so they are tested without pygame or a network:

* A tap within :data:`DEBOUNCE_S` of a screen change is ignored, and no
  second ticket request is made while one is in flight: a double tap on a
  service issues one ticket.
* After ``idle_s`` without a touch, a warning gives ``warning_s`` (≥ 20 s)
  to ask for more time; then the kiosk returns to the start screen.
* Without the queue the kiosk shows :data:`OFFLINE` and takes no requests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DEBOUNCE_S = 0.6  # a tap this soon after the screen changed belongs to the previous screen
ANSWER_TIMEOUT_S = 8.0  # a request the queue has not answered by then is reported as not done
THANKS_S = 6.0  # the «thank you» and message screens return to the start by themselves
CODE_DIGITS = 8  # booking codes are 6 digits; a little room, no more


class Screen(StrEnum):
    START = "start"
    GROUPS = "groups"
    SERVICES = "services"
    PRIORITY = "priority"
    CHECK_IN = "check_in"
    WAITING = "waiting"  # a request is with the queue
    TICKET = "ticket"
    MESSAGE = "message"  # a refusal or a failure, said plainly
    RATE_FACES = "rate_faces"
    RATE_LOYALTY = "rate_loyalty"
    THANKS = "thanks"
    OFFLINE = "offline"


GRADES = ("чудово", "добре", "прийнятно", "погано", "жахливо")  # resolution No. 864's answer scale


@dataclass(frozen=True, slots=True)
class Request:
    """A message for the queue (``kiosk.protocol``, kiosk → queue)."""

    message: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.message["id"])


class PrintStatus(StrEnum):
    NONE = ""
    PRINTING = "printing"
    PRINTED = "printed"
    FAILED = "failed"  # the number is shown large; the visitor is told to remember it


@dataclass(slots=True)
class KioskFlow:
    """The kiosk's state and its transitions. Times are ``time.monotonic()`` seconds."""

    idle_s: float = 60.0
    warning_s: float = 20.0
    rating_only: bool = False  # a rating terminal beside a window: the start screen is the five faces
    window: int | None = None  # that window's number, sent with each rating
    screen: Screen = Screen.OFFLINE
    lang: str = "uk"
    speech: bool = False
    connected: bool = False
    menu: dict[str, Any] | None = None
    lane: str = "walk_in"
    purpose: str = "ticket"  # what the service chosen is for: "ticket" or "rate"
    rating_service: str | None = None
    group_id: str | None = None
    code: str = ""
    grade: str | None = None
    issued: dict[str, Any] | None = None  # the queue's «issued» answer on the ticket screen
    print_status: PrintStatus = PrintStatus.NONE
    print_note: tuple[str, str] = ("", "")
    message: tuple[str, str] = ("", "")
    pending: Request | None = None
    pending_since: float = 0.0
    last_touch: float = 0.0
    screen_since: float = 0.0
    warning_since: float | None = None
    tickets_issued: int = 0
    changes: int = 0  # bumps on every visible change: the screen thread redraws
    log: list[str] = field(default_factory=list)

    # --- what the screen shows ---

    @property
    def home(self) -> Screen:
        if not self.connected:
            return Screen.OFFLINE
        return Screen.GROUPS if self.rating_only else Screen.START

    def groups(self) -> list[dict[str, Any]]:
        return [g for area in (self.menu or {}).get("areas", []) for g in area.get("groups", [])]

    def group(self) -> dict[str, Any] | None:
        return next((g for g in self.groups() if g.get("id") == self.group_id), None)

    def service(self, service_id: str) -> dict[str, Any] | None:
        return next((s for g in self.groups() for s in g.get("services", []) if s.get("id") == service_id), None)

    # --- events ---

    def tap(self, action: str, now: float) -> Request | None:
        """A tap on the button whose action is ``action``; the request to send, if any."""
        since_change = now - self.screen_since
        self.last_touch = now
        if self.warning_since is not None:
            self.warning_since = None  # any touch is an answer to «are you still here?»
            self._changed()
            return None
        if since_change < DEBOUNCE_S and action != "lang":
            self.log.append(f"debounced {action}")
            return None
        head, _, arg = action.partition(":")
        if head == "lang":
            self.lang = "en" if self.lang == "uk" else "uk"
            self._changed()
        elif head == "speech":
            self.speech = not self.speech
            self._changed()
        elif head in ("home", "done", "back") and (head != "back" or self.screen != Screen.SERVICES):
            self._go(self.home, now)
        elif head == "back":
            self._go(Screen.GROUPS, now)
        elif self.screen == Screen.OFFLINE or self.pending is not None:
            return None  # nothing is asked of a queue that is not there, nor twice
        elif head == "take":
            self.lane, self.purpose = "walk_in", "ticket"
            self._go(Screen.GROUPS, now)
        elif head == "priority":
            self.lane, self.purpose = "priority", "ticket"
            self._go(Screen.PRIORITY, now)
        elif head == "priority_go":
            self._go(Screen.GROUPS, now)
        elif head == "check_in":
            self.code = ""
            self._go(Screen.CHECK_IN, now)
        elif head == "rate":
            self.purpose = "rate"  # a rating names the service rated: choose it first
            self._go(Screen.GROUPS, now)
        elif head == "group" and self.screen == Screen.GROUPS:
            self.group_id = arg
            self._go(Screen.SERVICES, now)
        elif head == "service" and self.screen == Screen.SERVICES and self.purpose == "rate":
            self.rating_service = arg
            self._go(Screen.RATE_FACES, now)
        elif head == "service" and self.screen == Screen.SERVICES:
            return self._ask({"type": "issue", "service": arg, "lane": self.lane, "person": None}, now)
        elif head == "key" and self.screen == Screen.CHECK_IN:
            return self._key(arg, now)
        elif head == "face" and self.screen == Screen.RATE_FACES and arg in GRADES:
            self.grade = arg
            self._go(Screen.RATE_LOYALTY, now)
        elif head in ("loyalty", "skip") and self.screen == Screen.RATE_LOYALTY:
            loyalty = int(arg) if head == "loyalty" and arg.isdecimal() and int(arg) <= 10 else None
            return self._ask({"type": "rate", "ticket": None, "service": self.rating_service, "window": self.window,
                              "grade": self.grade, "loyalty": loyalty}, now)
        return None

    def _key(self, key: str, now: float) -> Request | None:
        if key == "del":
            self.code = self.code[:-1]
        elif key == "ok":
            if self.code:
                return self._ask({"type": "check_in", "code": self.code}, now)
        elif key.isdecimal() and len(self.code) < CODE_DIGITS:
            self.code += key
        self._changed()
        return None

    def _ask(self, message: dict[str, Any], now: float) -> Request:
        request = Request({**message, "id": str(uuid.uuid4())})
        self.pending, self.pending_since = request, now
        self._go(Screen.WAITING, now)
        return request

    def answer(self, message: dict[str, Any], now: float) -> bool:
        """The queue's answer to the pending request; True when it issued a ticket (print it)."""
        if self.pending is None or message.get("id") != self.pending.id:
            return False  # an answer to a request we gave up on: nothing is shown for it
        self.pending = None
        kind = message.get("type")
        if kind == "issued":
            self.issued = message
            self.tickets_issued += 0 if message.get("repeat") else 1
            self.print_status, self.print_note = PrintStatus.PRINTING, ("", "")
            self._go(Screen.TICKET, now)
            return True
        if kind == "rated":
            self._go(Screen.THANKS, now)
        elif kind == "refused":
            self._say(str(message.get("message") or "Відмовлено."), str(message.get("message_en") or "Refused."), now)
        else:
            self._say("Черга відповіла незрозуміло. Талон не видано.",
                      "The queue gave an unexpected answer. No ticket was issued.", now)
        return False

    def printed(self, ok: bool, uk: str, en: str) -> None:
        """The print job's outcome for the ticket on screen."""
        self.print_status = PrintStatus.PRINTED if ok else PrintStatus.FAILED
        self.print_note = (uk, en)
        self._changed()

    def link(self, up: bool, now: float) -> None:
        self.connected = up
        if not up:
            if self.pending is not None:
                self.pending = None
                self._say("Немає зв’язку з чергою. Талон не видано.",
                          "No connection to the queue. No ticket was issued.", now)
            if self.screen not in (Screen.TICKET, Screen.MESSAGE):
                self._go(Screen.OFFLINE, now)
        elif self.screen == Screen.OFFLINE:
            self._go(self.home, now)
        self._changed()

    def set_menu(self, menu: dict[str, Any]) -> None:
        self.menu = menu
        self._changed()

    def tick(self, now: float) -> None:
        """The clock: give up on an unanswered request, warn the idle, return home."""
        if self.pending is not None and now - self.pending_since > ANSWER_TIMEOUT_S:
            self.pending = None
            self._say("Черга не відповіла. Талон не видано, спробуйте ще раз.",
                      "The queue did not answer. No ticket was issued; please try again.", now)
        if self.screen in (Screen.THANKS, Screen.MESSAGE) and now - self.screen_since > THANKS_S \
                and now - self.last_touch > THANKS_S:
            self._go(self.home, now)
            return
        if self.screen in (self.home, Screen.OFFLINE, Screen.WAITING):
            self.warning_since = None
            return
        idle = now - max(self.last_touch, self.screen_since)
        if self.warning_since is None and idle >= self.idle_s:
            self.warning_since = now
            self._changed()
        elif self.warning_since is not None and now - self.warning_since >= self.warning_s:
            self.log.append("idle: back to the start")
            self._go(self.home, now)

    def warning_left(self, now: float) -> int | None:
        """Whole seconds left to ask for more time, while the idle warning is up."""
        if self.warning_since is None:
            return None
        return max(0, round(self.warning_s - (now - self.warning_since)))

    # --- helpers ---

    def _say(self, uk: str, en: str, now: float) -> None:
        self.message = (uk, en)
        self._go(Screen.MESSAGE, now)

    def _go(self, screen: Screen, now: float) -> None:
        if screen == self.home or screen == Screen.OFFLINE:
            self.lane, self.group_id, self.code, self.grade = "walk_in", None, "", None
            self.purpose, self.rating_service = ("rate" if self.rating_only else "ticket"), None
            if screen != self.screen:
                self.lang = "uk"  # the next visitor starts in the state language
        self.screen, self.screen_since, self.warning_since = screen, now, None
        self._changed()

    def _changed(self) -> None:
        self.changes += 1
