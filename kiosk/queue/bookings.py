"""Bookings from the booking API and from CSV or JSON imports (phone, web, chatbot).

One booking is ``code`` (optional: the queue makes one), ``service``,
``slot_start`` and ``person`` (optional, a hash, never a document number).
``slot_start`` is local time of the centre (``2026-03-03 10:30``) or ISO
8601 with an offset. A CSV has the header ``code,service,slot_start,person``
(UTF-8, a BOM is fine; ``;`` also separates). A JSON import is a list of
such objects, or ``{"bookings": [...]}``. A malformed line refuses the whole
import, naming the line; nothing is added.

Codes the queue makes are six digits, easy to type on a kiosk's keypad.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import datetime, timezone, tzinfo
from typing import Any

from kiosk.queue.tickets import Booking

COLUMNS = ("code", "service", "slot_start", "person")
CODE_DIGITS = 6


class BookingFormatError(ValueError):
    """A booking that cannot be read; ``line`` is 1-based within the import."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"Рядок {line}: {reason}")
        self.line = line
        self.reason = reason


def parse_slot(value: Any, tz: tzinfo) -> datetime:
    """A slot start as an aware datetime; naive text is the centre's local time."""
    try:
        at = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"час «{value}» — не дата й час (напр. 2026-03-03 10:30)") from None
    return at.replace(tzinfo=tz) if at.tzinfo is None else at.astimezone(timezone.utc)


def booking_from(item: Any, line: int, tz: tzinfo) -> Booking:
    """One booking from a JSON object or a CSV row."""
    if not isinstance(item, dict):
        raise BookingFormatError(line, "запис має бути об'єктом з полями service, slot_start")
    service = str(item.get("service") or "").strip()
    if not service:
        raise BookingFormatError(line, "не вказано послугу (service)")
    try:
        slot = parse_slot(item.get("slot_start") or "", tz)
    except ValueError as exc:
        raise BookingFormatError(line, str(exc)) from None
    code = str(item.get("code") or "").strip().upper()
    if len(code) > 32 or (code and not code.replace("-", "").isalnum()):
        raise BookingFormatError(line, f"код «{code[:40]}» має складатися з літер і цифр (до 32)")
    person = str(item.get("person") or "").strip() or None
    return Booking(code, service, slot, person)


def parse_import(body: bytes, content_type: str, tz: tzinfo) -> list[Booking]:
    """Bookings from an import body; raises BookingFormatError or ValueError for a bad one."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("імпорт має бути текстом UTF-8") from None
    if content_type == "application/json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"це не JSON: {exc}") from None
        items = data.get("bookings") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError("JSON-імпорт — це список записів або {\"bookings\": [...]}")
    else:
        dialect = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
        reader = csv.DictReader(io.StringIO(text), delimiter=dialect)
        if reader.fieldnames is None or not {"service", "slot_start"} <= {f.strip() for f in reader.fieldnames}:
            raise ValueError("CSV потребує заголовка code,service,slot_start,person")
        items = [{(k or "").strip(): v for k, v in row.items()} for row in reader]
    bookings = [booking_from(item, i, tz) for i, item in enumerate(items, start=1)]
    if not bookings:
        raise ValueError("імпорт порожній")
    codes = [b.code for b in bookings if b.code]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise ValueError(f"код {repeated[0]} повторюється в імпорті")
    return bookings


def new_code(taken: set[str]) -> str:
    """A fresh six-digit code not in ``taken``."""
    while True:
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        if code not in taken:
            return code
