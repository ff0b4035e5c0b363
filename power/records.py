"""What the power role writes down: events, open alerts, the generator's counters.

Everything one policy step produced goes to SQLite in one transaction (a
:class:`Batch`), together with its messages to the hub (``edge.outbox``), so
an alarm is on disk before a relay moves and is reported exactly as it was
recorded. Alerts are level-like: :class:`AlertBook` knows which are open
(across restarts, from ``power_alerts``), so raising an open one or clearing
a closed one sends nothing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any

from edge.outbox import Priority, enqueue
from edge.timeutil import iso_utc
from power.policy import Counters, PolicyEvent
from power.status import UpsEvent

MIGRATIONS = {"power": [
    """
    CREATE TABLE power_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE power_alerts (
        key TEXT PRIMARY KEY,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        message_en TEXT NOT NULL,
        raised_at TEXT NOT NULL
    );
    CREATE TABLE power_events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        message TEXT NOT NULL,
        message_en TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE power_history (
        step INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        vals TEXT NOT NULL,
        PRIMARY KEY (step, bucket)
    ) WITHOUT ROWID;
    """
]}

KEEP_EVENTS = 20_000  # about a year of a busy site; older ones are in the hub's database


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """One alert as the hub shows it: ``key`` is unique per condition on this node."""

    key: str
    severity: str  # critical | warning | info
    message: str  # Ukrainian
    message_en: str


# Events that must overtake readings and routine events in the outbox.
URGENT = frozenset({"ONBATT", "LOWBATT", "FSD", "NOCOMM", "MAINS_LOST", "GEN_FAIL", "GEN_NO_OUTPUT",
                    "GEN_STOP_FAIL", "SHUTDOWN", "SHUTDOWN_HOST", "SHUTDOWN_SELF", "SHUTDOWN_REQUESTED"})

ALARM_SEVERITY = {PolicyEvent.GEN_FAIL: "critical", PolicyEvent.GEN_NO_OUTPUT: "critical",
                  PolicyEvent.GEN_STOP_FAIL: "critical", PolicyEvent.SHUTDOWN: "critical",
                  PolicyEvent.GEN_MAX_RUNTIME: "warning", PolicyEvent.SERVICE_DUE: "warning"}

_UPS_TEXT = {
    UpsEvent.ONLINE: ("ДБЖ «{n}»: живлення від мережі", "UPS '{n}' on line power"),
    UpsEvent.ONBATT: ("ДБЖ «{n}» перейшов на батарею", "UPS '{n}' on battery"),
    UpsEvent.LOWBATT: ("ДБЖ «{n}»: батарея розряджається, низький заряд", "UPS '{n}' battery low"),
    UpsEvent.FSD: ("ДБЖ «{n}»: примусове вимкнення", "UPS '{n}' forced shutdown"),
    UpsEvent.REPLBATT: ("ДБЖ «{n}»: замініть батарею", "UPS '{n}' battery needs replacing"),
    UpsEvent.COMMOK: ("Зв'язок з ДБЖ «{n}» відновлено", "Communication with UPS '{n}' restored"),
    UpsEvent.COMMBAD: ("Зв'язок з ДБЖ «{n}» порушено", "Communication with UPS '{n}' failing"),
    UpsEvent.NOCOMM: ("ДБЖ «{n}» давно не відповідає", "UPS '{n}' has not answered for a long time"),
}


def ups_text(event: UpsEvent, name: str) -> tuple[str, str]:
    uk, en = _UPS_TEXT[event]
    return uk.format(n=name), en.format(n=name)


def mains_alert() -> AlertSpec:
    return AlertSpec("mains-lost", "warning", "Зникла мережа: живлення від ДБЖ або генератора",
                     "Mains lost: running on the UPS or the generator")


def ups_alerts(name: str) -> dict[str, AlertSpec]:
    """The condition alerts of one UPS, by what they watch."""
    return {
        "OB": AlertSpec(f"ups-onbatt:{name}", "warning", *ups_text(UpsEvent.ONBATT, name)),
        "LB": AlertSpec(f"ups-lowbatt:{name}", "critical", *ups_text(UpsEvent.LOWBATT, name)),
        "COMMBAD": AlertSpec(f"ups-comm:{name}", "warning", *ups_text(UpsEvent.COMMBAD, name)),
        "NOCOMM": AlertSpec(f"ups-nocomm:{name}", "critical", *ups_text(UpsEvent.NOCOMM, name)),
    }


def generator_running_alert(reasons_uk: str, reasons_en: str) -> AlertSpec:
    return AlertSpec("generator-running", "info", f"Генератор працює ({reasons_uk})",
                     f"Generator running ({reasons_en})")


def generator_comm_alert(severity: str) -> AlertSpec:
    return AlertSpec("generator-comm", severity, "Немає зв'язку з контролером генератора (Modbus)",
                     "No communication with the generator controller (Modbus)")


def alarm_alert(event: PolicyEvent, uk: str, en: str) -> AlertSpec:
    return AlertSpec(f"generator:{event}" if event is not PolicyEvent.SHUTDOWN else "ups-shutdown",
                     ALARM_SEVERITY.get(event, "warning"), uk, en)


def alarm_key(event: PolicyEvent) -> str:
    return alarm_alert(event, "", "").key


@dataclass
class Batch:
    """What one step records; written in one transaction by :func:`write`."""

    events: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    raised: list[AlertSpec] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    counters: Counters | None = None
    messages: list[tuple[str, dict[str, Any], Priority]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.raised or self.cleared or self.counters or self.messages)

    def event(self, name: str, uk: str, en: str, **detail: Any) -> None:
        self.events.append((name, uk, en, detail))


class AlertBook:
    """Which alerts of this node are open, so each is raised and cleared exactly once."""

    def __init__(self, open_alerts: dict[str, AlertSpec] | None = None) -> None:
        self.open: dict[str, AlertSpec] = dict(open_alerts or {})

    def raise_(self, spec: AlertSpec, batch: Batch) -> bool:
        if spec.key in self.open:
            return False
        self.open[spec.key] = spec
        batch.raised.append(spec)
        return True

    def clear(self, key: str, batch: Batch) -> bool:
        if self.open.pop(key, None) is None:
            return False
        batch.cleared.append(key)
        return True

    def set(self, spec: AlertSpec, on: bool, batch: Batch) -> None:
        """Raise or clear ``spec`` to match a condition."""
        self.raise_(spec, batch) if on else self.clear(spec.key, batch)


def write(conn: sqlite3.Connection, batch: Batch) -> None:
    """Record a batch and its messages to the hub (call inside one transaction)."""
    now = iso_utc()
    for name, uk, en, detail in batch.events:
        conn.execute("INSERT INTO power_events (at, event, message, message_en, detail) VALUES (?, ?, ?, ?, ?)",
                     (now, name, uk, en, json.dumps(detail, ensure_ascii=False)))
        enqueue(conn, "power.event", {"event": name, "message": uk, "message_en": en, **detail},
                Priority.CRITICAL if name in URGENT else Priority.EVENT)
    for spec in batch.raised:
        conn.execute("INSERT OR REPLACE INTO power_alerts (key, severity, message, message_en, raised_at)"
                     " VALUES (?, ?, ?, ?, ?)", (spec.key, spec.severity, spec.message, spec.message_en, now))
        enqueue(conn, "alert", {"key": spec.key, "state": "raised", "severity": spec.severity,
                                "message": spec.message, "message_en": spec.message_en}, Priority.CRITICAL)
    for key in batch.cleared:
        conn.execute("DELETE FROM power_alerts WHERE key = ?", (key,))
        enqueue(conn, "alert", {"key": key, "state": "cleared"}, Priority.CRITICAL)
    for kind, payload, priority in batch.messages:
        enqueue(conn, kind, payload, priority)
    if batch.counters is not None:
        conn.execute("INSERT OR REPLACE INTO power_kv (key, value) VALUES ('counters', ?)",
                     (counters_json(batch.counters),))
    if batch.events and conn.execute("SELECT max(id) FROM power_events").fetchone()[0] % 1000 == 0:
        conn.execute("DELETE FROM power_events WHERE id <= (SELECT max(id) FROM power_events) - ?", (KEEP_EVENTS,))


def counters_json(c: Counters) -> str:
    return json.dumps({k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(c).items()})


def counters_from_json(text: str) -> Counters:
    data = json.loads(text)
    dates = {"commissioned_on", "serviced_on", "last_exercise_on"}
    known = {f.name for f in fields(Counters)}
    return Counters(**{k: date.fromisoformat(v) if k in dates and v else v for k, v in data.items() if k in known})


def load(conn: sqlite3.Connection) -> tuple[Counters | None, dict[str, AlertSpec]]:
    """The counters and the open alerts as the last run left them."""
    row = conn.execute("SELECT value FROM power_kv WHERE key = 'counters'").fetchone()
    alerts = {r[0]: AlertSpec(*r) for r in conn.execute(
        "SELECT key, severity, message, message_en FROM power_alerts").fetchall()}
    return (counters_from_json(row[0]) if row else None), alerts


def recent_events(conn: sqlite3.Connection, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT at, event, message, message_en, detail FROM power_events ORDER BY id DESC LIMIT ?",
                        (limit,)).fetchall()
    return [{"at": r[0], "event": r[1], "message": r[2], "message_en": r[3], **json.loads(r[4])} for r in rows]
