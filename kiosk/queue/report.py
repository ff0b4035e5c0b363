"""A day's statistics from the stored log: what the statistics endpoints and the hub receive.

The figures themselves are :mod:`kiosk.queue.stats`; this module picks the day's
events from the journal (:func:`kiosk.queue.records.day_events`) and shapes
the results as JSON and CSV. Durations are whole seconds.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from kiosk.queue import records as journal
from kiosk.queue import stats
from kiosk.queue.stats import By, Feedback, FeedbackSummary, Outcome, Summary, Visit

#: UTF-8 byte order mark: spreadsheet programs then read the Cyrillic right.
BOM = "\ufeff"


class Export(StrEnum):
    """What ``/queue/api/stats.csv?what=`` exports."""

    VISITS = "visits"
    SERVICE = "service"
    WINDOW = "window"
    HOUR = "hour"
    FEEDBACK = "feedback"
    FEEDBACK_SUMMARY = "feedback-summary"


def day_visits(conn: sqlite3.Connection, day: date) -> list[Visit]:
    """The visits of ``day``: every stretch of a ticket's life that ended that day or is still open."""
    events, began, ended = journal.day_events(conn, day)
    visits = stats.visits(events)
    if ended:  # what the closing rollover carried on belongs to the next day
        visits = [v for v in visits if v.outcome is not Outcome.OPEN]
    if began is not None:  # what ended before the day began belongs to the days before
        visits = [v for v in visits if v.ended_at is None or v.ended_at > began]
    return visits


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else round(value.total_seconds())


def summary_json(row: Summary) -> dict[str, Any]:
    return {"key": row.key, "visits": row.visits, "served": row.served, "no_shows": row.no_shows,
            "redirected": row.redirected, "mean_wait_s": _seconds(row.mean_wait), "max_wait_s": _seconds(row.max_wait),
            "mean_service_s": _seconds(row.mean_service), "max_service_s": _seconds(row.max_service)}


def feedback_json(row: FeedbackSummary) -> dict[str, Any]:
    return {"key": row.key, "answers": row.answers,
            "grades": dict(zip((g.value for g in stats.Grade), row.grades)),
            "mean_points": None if row.mean_points is None else round(row.mean_points, 2),
            "promoters": row.promoters, "passives": row.passives, "detractors": row.detractors,
            "loyalty_index": None if row.loyalty_index is None else round(row.loyalty_index, 1)}


def report(day: date, visits: list[Visit], feedback: list[Feedback], tz: tzinfo) -> dict[str, Any]:
    """The day's statistics as JSON: per service, window and hour; peaks; ratings and the loyalty index."""
    fresh = [v for v in visits if not v.returning]
    return {
        "day": day.isoformat(),
        "tickets": len({v.ticket_id for v in visits}),
        "issued": len(fresh),
        "served": sum(v.outcome is Outcome.SERVED for v in visits),
        "no_shows": sum(v.outcome is Outcome.NO_SHOW for v in visits),
        "waiting_or_at_window": sum(v.outcome is Outcome.OPEN for v in visits),
        "by_service": [summary_json(r) for r in stats.summarize(visits, By.SERVICE, tz)],
        "by_window": [summary_json(r) for r in stats.summarize(visits, By.WINDOW, tz)],
        "by_hour": [summary_json(r) for r in stats.summarize(visits, By.HOUR, tz)],
        "peak_hours": [{"hour": h, "arrivals": n} for h, n in stats.peak_hours(visits, tz)],
        "feedback": [feedback_json(r) for r in stats.feedback_summary(feedback, tz)],
        "feedback_by_service": [feedback_json(r) for r in stats.feedback_summary(feedback, tz, By.SERVICE)],
        "loyalty_index": _rounded(stats.loyalty_index(feedback)),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def export_csv(what: Export, visits: list[Visit], feedback: list[Feedback], tz: tzinfo) -> str:
    """One CSV export, with the BOM."""
    if what is Export.VISITS:
        text = stats.visits_csv(visits, tz)
    elif what in (Export.SERVICE, Export.WINDOW, Export.HOUR):
        by = By(what.value)
        text = stats.summary_csv(stats.summarize(visits, by, tz), by)
    elif what is Export.FEEDBACK:
        text = stats.feedback_csv(feedback, tz)
    else:
        text = stats.feedback_summary_csv(stats.feedback_summary(feedback, tz, By.SERVICE), By.SERVICE)
    return BOM + text


def hour_aggregate(day: date, hour: int, visits: list[Visit], tz: tzinfo) -> dict[str, Any]:
    """Figures of the visitors who joined the line in one local hour, as known now (for the hub)."""
    key = f"{hour:02d}:00"
    mine = [v for v in visits if stats.visit_key(v, By.HOUR, tz) == key]
    rows = stats.summarize(mine, By.SERVICE, tz)
    total = stats.summarize(mine, By.HOUR, tz)
    return {"day": day.isoformat(), "hour": key,
            "total": summary_json(total[0]) if total else None,
            "by_service": [summary_json(r) for r in rows]}


def hour_of(at: datetime, tz: tzinfo) -> tuple[date, int]:
    local = at.astimezone(tz)
    return local.date(), local.hour
