"""What consoles, screens and the hall say to each other over their WebSockets.

Consoles and hall screens are nodes: they connect to the hall with
:class:`edge.peers.PeerClient` at :data:`CONSOLE_PATH` / :data:`SCREEN_PATH`,
and every message is sealed (see ``edge.peers``). The broadcast overlay is a
browser page: it reads :data:`LIVE_PATH`, public and read-only.

Console → hall
    ``{"type": "hello", "seats": ["1", "2"]}``
        the seats this console drives (the hall checks them against the
        seat plan: a console may speak only for its own seats).
    ``{"type": "press", "id": <uuid>, "seat": "1", "choice": "За", "presence": true, "vote": <uid or null>}``
        a button press. While a vote is open it is a ballot for ``vote``
        (the uid the console believes is open, so a late press never lands
        in the next vote); while registration is open and no vote is, it
        registers the deputy of the seat. ``presence`` says whether the
        presence sensor was held.
    ``{"type": "card", "id": <uuid>, "seat": "1", "card": "0A1B2C3D4E"}``
        a card read at the seat: registers its deputy; a card of another
        seat's deputy is refused.
    ``{"type": "fault", "seat": "1", "input": "za", "what": "flapping"}``
        a faulty input (never counted as votes); the hall raises an alert.
        ``"what": "ok"`` when the input has settled again: the alert clears.

Hall → console
    ``{"type": "state", "vote": {"uid", "number", "title"} | null, "registration_open": bool,
       "seats": {"1": {"deputy": "Прізвище І. Б.", "registered": bool, "choice": "За" | null}}}``
        after hello and after every change that concerns the console.
    ``{"type": "ack", "id", "seat", "kind": "ballot" | "registered", "choice": ...}``
        sent only after the fact is committed to SQLite: the LED may light.
    ``{"type": "refused", "id", "seat", "code", "message", "message_en", "details"}``
        nothing was recorded; the console shows its refusal pattern. Beside
        ``type``, ``id`` and ``seat`` it is the refusal's one JSON form
        (:meth:`edge.errors.Refusal.to_dict`); the codes and texts are in
        ``voting.refusals``.

Hall → screen (and the overlay)
    A whole snapshot of what a screen shows, after every change::

        {"type": "hall", "seq": 17, "at": "2026-11-22T10:15:03.120Z",
         "council": "Тестівська сільська рада", "date": "2026-11-22",
         "convocation": 8, "session": 12,
         "state": "waiting" | "registration" | "vote_open" | "result" | "cancelled",
         "registration_open": true,
         "registered": 20, "total_composition": 27, "quorum_required": 14, "quorum_met": true,
         "vote": null | {"uid", "number", "title", "project_number", "rule_text", "threshold",
                         "opened_at", "closes_at" (ISO or null), "voted", "eligible",
                         "counts": null (choices hidden until close) | {"За": n, "Проти": n, "Утримався": n}},
         "result": null | {"uid", "number", "title", "outcome": "Прийнято" | "Не прийнято",
                           "threshold", "rule_text", "closed_at",
                           "counts": {"За", "Проти", "Утримався", "Не голосував", "Відсутній"},
                           "roll_call": [{"id", "name", "result"}]},
         "cancelled": null | {"uid", "number", "title", "reason"}}

    ``state`` says what the screen shows now; ``result`` is the last closed
    vote (shown while ``state`` is "result"), ``cancelled`` the last
    cancelled one (while "cancelled").
"""

from __future__ import annotations

CONSOLE_PATH = "/hall/console"
SCREEN_PATH = "/hall/screen"
LIVE_PATH = "/hall/live"

CHOICES = ("За", "Проти", "Утримався")

# Console input names, also the keys of a seat's pin table in configuration.
BUTTON_INPUTS = {"za": "За", "proty": "Проти", "utrymavsia": "Утримався"}
