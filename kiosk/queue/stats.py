"""Statistics of the day from the queue's events, and residents' feedback.

Wait time is *called − joined the line* (for a fresh ticket: called − issued;
after a redirect the visitor's new wait starts at the redirect). Service time
is *finished − started* (or redirected − started, which is service too).
Each stretch of a ticket's life is a :class:`Visit`, so a redirected visitor
counts once for each service they waited for. A ticket carried over to the
next day has no wait figure for its second day: the night is not a wait.

Feedback follows Cabinet of Ministers resolution No. 864: a 0–10 loyalty
question, promoters 9–10, detractors 0–6, loyalty index = % promoters −
% detractors (−100…100), and a five-point rating «чудово» … «жахливо».

CSV exports are text (the shell writes them as UTF-8 with a BOM so that
spreadsheet programs read the Cyrillic): Ukrainian headers, times in local
ISO 8601, durations in whole seconds (no decimal separator to trip on).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

from edge.csvtext import csv_text
from kiosk.queue import events as ev
from kiosk.errors import ErrorCode, QueueError
from kiosk.queue.tickets import TicketKind


class Outcome(StrEnum):
    SERVED = "served"
    NO_SHOW = "no_show"
    REDIRECTED = "redirected"
    CARRIED_OVER = "carried_over"
    EXPIRED = "expired"
    OPEN = "open"  # still waiting or at a window when the events end


OUTCOME_TEXT = {
    Outcome.SERVED: "обслуговано",
    Outcome.NO_SHOW: "неявка",
    Outcome.REDIRECTED: "перенаправлено",
    Outcome.CARRIED_OVER: "перенесено на наступний день",
    Outcome.EXPIRED: "не обслуговано (кінець дня)",
    Outcome.OPEN: "у черзі",
}


@dataclass(frozen=True, slots=True)
class Visit:
    """One stretch of a ticket's life: waiting for one service, then at one window."""

    ticket_id: str
    label: str
    service_id: str
    kind: TicketKind
    queued_at: datetime | None
    outcome: Outcome = Outcome.OPEN
    window: int | None = None
    called_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    recalls: int = 0
    returning: bool = False  # came by redirect or carry-over

    @property
    def wait(self) -> timedelta | None:
        if self.queued_at is None or self.called_at is None:
            return None
        return self.called_at - self.queued_at

    @property
    def service_time(self) -> timedelta | None:
        if self.started_at is None or self.ended_at is None:
            return None
        if self.outcome not in (Outcome.SERVED, Outcome.REDIRECTED):
            return None
        return self.ended_at - self.started_at


def visits(events: Iterable[ev.Event]) -> list[Visit]:
    """The visits the events describe, in the order they ended (open ones last)."""
    done: list[Visit] = []
    live: dict[str, Visit] = {}

    def change(ticket_id: str, **changes: Any) -> None:
        live[ticket_id] = dataclasses.replace(live[ticket_id], **changes)

    def close(ticket_id: str, outcome: Outcome, at: datetime) -> Visit:
        visit = dataclasses.replace(live.pop(ticket_id), outcome=outcome, ended_at=at)
        done.append(visit)
        return visit

    for e in events:
        match e:
            case ev.TicketIssued():
                live[e.ticket_id] = Visit(e.ticket_id, f"{e.prefix}{e.number:03d}", e.service_id,
                                          e.ticket_kind, e.at)  # fmt: skip
            case ev.TicketCalled():
                change(e.ticket_id, called_at=e.at, window=e.window)
            case ev.TicketRecalled():
                change(e.ticket_id, recalls=live[e.ticket_id].recalls + 1)
            case ev.ServiceStarted():
                change(e.ticket_id, started_at=e.at)
            case ev.ServiceFinished():
                close(e.ticket_id, Outcome.SERVED, e.at)
            case ev.TicketNoShow():
                close(e.ticket_id, Outcome.NO_SHOW, e.at)
            case ev.TicketRedirected():
                old = close(e.ticket_id, Outcome.REDIRECTED, e.at)
                live[e.ticket_id] = Visit(old.ticket_id, old.label, e.to_service, old.kind, e.at,
                                          returning=True)  # fmt: skip
            case ev.DayRolled():
                for ticket_id in e.carried:
                    old = close(ticket_id, Outcome.CARRIED_OVER, e.at)
                    live[ticket_id] = Visit(old.ticket_id, old.label, old.service_id, old.kind,
                                            None, returning=True)  # fmt: skip
                for ticket_id in e.expired:
                    close(ticket_id, Outcome.EXPIRED, e.at)
    return done + list(live.values())


class By(StrEnum):
    """How a summary groups visits or feedback."""

    SERVICE = "service"
    WINDOW = "window"
    HOUR = "hour"  # local hour the visitor joined the line (feedback: was given)


BY_TEXT = {By.SERVICE: "послуга", By.WINDOW: "вікно", By.HOUR: "година"}


@dataclass(frozen=True, slots=True)
class Summary:
    """Figures of one group (a service, a window or an hour)."""

    key: str
    visits: int
    served: int
    no_shows: int
    redirected: int
    mean_wait: timedelta | None
    max_wait: timedelta | None
    mean_service: timedelta | None
    max_service: timedelta | None


def _hour(at: datetime | None, tz: tzinfo) -> str | None:
    return None if at is None else f"{at.astimezone(tz).hour:02d}:00"


def visit_key(visit: Visit, by: By, tz: tzinfo) -> str | None:
    """The group of a visit, or None when it has none (never called → no window)."""
    if by is By.SERVICE:
        return visit.service_id
    if by is By.WINDOW:
        return None if visit.window is None else str(visit.window)
    return _hour(visit.queued_at or visit.called_at, tz)


def summarize(all_visits: Iterable[Visit], by: By, tz: tzinfo) -> list[Summary]:
    """Wait, service time, no-shows and redirects per service, window or hour, sorted by key."""
    groups = _group(all_visits, lambda v: visit_key(v, by, tz))
    rows = []
    for key in sorted(groups, key=_natural):
        group = groups[key]
        waits = [w for v in group if (w := v.wait) is not None]
        services = [s for v in group if (s := v.service_time) is not None]
        rows.append(Summary(
            key=key,
            visits=len(group),
            served=sum(v.outcome is Outcome.SERVED for v in group),
            no_shows=sum(v.outcome is Outcome.NO_SHOW for v in group),
            redirected=sum(v.outcome is Outcome.REDIRECTED for v in group),
            mean_wait=_mean(waits),
            max_wait=max(waits, default=None),
            mean_service=_mean(services),
            max_service=max(services, default=None),
        ))  # fmt: skip
    return rows


def peak_hours(all_visits: Iterable[Visit], tz: tzinfo, top: int = 3) -> list[tuple[str, int]]:
    """The busiest hours by visitors joining the line: [("10:00", 42), ...], busiest first."""
    arrivals = _group(
        (v for v in all_visits if not v.returning), lambda v: _hour(v.queued_at, tz)
    )
    ranked = sorted(arrivals.items(), key=lambda item: (-len(item[1]), item[0]))
    return [(hour, len(group)) for hour, group in ranked[:top]]


def visits_csv(all_visits: Iterable[Visit], tz: tzinfo, delimiter: str = ",") -> str:
    """One row per visit."""
    header = ["талон", "ідентифікатор", "послуга", "вид талона", "вікно", "став у чергу",
              "викликано", "розпочато", "завершено", "результат", "повторних викликів",
              "очікування, с", "обслуговування, с"]  # fmt: skip
    rows = [
        [v.label, v.ticket_id, v.service_id, v.kind.value, v.window, _local(v.queued_at, tz),
         _local(v.called_at, tz), _local(v.started_at, tz), _local(v.ended_at, tz),
         OUTCOME_TEXT[v.outcome], v.recalls, _seconds(v.wait), _seconds(v.service_time)]
        for v in all_visits
    ]  # fmt: skip
    return _csv(header, rows, delimiter)


def summary_csv(rows: Sequence[Summary], by: By, delimiter: str = ",") -> str:
    header = [BY_TEXT[by], "талонів", "обслуговано", "неявок", "перенаправлено",
              "середнє очікування, с", "найдовше очікування, с",
              "середнє обслуговування, с", "найдовше обслуговування, с"]  # fmt: skip
    body = [
        [r.key, r.visits, r.served, r.no_shows, r.redirected, _seconds(r.mean_wait),
         _seconds(r.max_wait), _seconds(r.mean_service), _seconds(r.max_service)]
        for r in rows
    ]  # fmt: skip
    return _csv(header, body, delimiter)


# --- feedback ------------------------------------------------------------------------


class Grade(StrEnum):
    """The five-point answer scale; the value is the word on the button."""

    EXCELLENT = "чудово"
    GOOD = "добре"
    ACCEPTABLE = "прийнятно"
    POOR = "погано"
    TERRIBLE = "жахливо"

    @property
    def points(self) -> int:
        """5 for «чудово» … 1 for «жахливо»."""
        return 5 - list(Grade).index(self)


LOYALTY_QUESTION = (
    "Наскільки ймовірно, що ви порекомендуєте наш ЦНАП рідним чи знайомим? "
    "Оцініть від 0 до 10."
)
RATING_QUESTION = "Як ви оцінюєте обслуговування?"


@dataclass(frozen=True, slots=True)
class Feedback:
    """A resident's answers after service: a grade, a 0–10 loyalty score, or both."""

    at: datetime
    service_id: str
    window: int | None = None
    ticket_id: str | None = None
    grade: Grade | None = None
    loyalty: int | None = None

    def __post_init__(self) -> None:
        if self.grade is None and self.loyalty is None:
            raise QueueError(ErrorCode.FEEDBACK_EMPTY, "Оберіть оцінку або дайте відповідь від 0 до 10.")
        if self.loyalty is not None and (
            isinstance(self.loyalty, bool) or not isinstance(self.loyalty, int) or not 0 <= self.loyalty <= 10
        ):
            raise QueueError(
                ErrorCode.LOYALTY_OUT_OF_RANGE,
                f"Відповідь «{self.loyalty}» має бути цілим числом від 0 до 10.",
                loyalty=self.loyalty,
            )
        if self.grade is not None and self.grade not in set(Grade):
            raise QueueError(
                ErrorCode.GRADE_INVALID,
                f"Оцінка «{self.grade}» не з переліку: {', '.join(Grade)}.",
                grade=self.grade,
            )
        if self.grade is not None:
            object.__setattr__(self, "grade", Grade(self.grade))


def loyalty_index(feedback: Iterable[Feedback]) -> float | None:
    """% of 9–10 answers − % of 0–6 answers, over those who answered; None when nobody did."""
    scores = [f.loyalty for f in feedback if f.loyalty is not None]
    if not scores:
        return None
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    return 100 * (promoters - detractors) / len(scores)


@dataclass(frozen=True, slots=True)
class FeedbackSummary:
    """Answers of one group; ``grades`` counts each :class:`Grade`, best first."""

    key: str
    answers: int
    grades: tuple[int, int, int, int, int]
    mean_points: float | None
    promoters: int
    passives: int
    detractors: int
    loyalty_index: float | None


def feedback_summary(
    feedback: Iterable[Feedback], tz: tzinfo, by: By | None = None
) -> list[FeedbackSummary]:
    """Feedback per service, window or hour; a single row «усього» when ``by`` is None."""
    if by is None:
        groups = _group(feedback, lambda f: "усього")
    else:
        groups = _group(feedback, lambda f: _feedback_key(f, by, tz))
    rows = []
    for key in sorted(groups, key=_natural):
        group = groups[key]
        grades = [f.grade for f in group if f.grade is not None]
        scores = [f.loyalty for f in group if f.loyalty is not None]
        rows.append(FeedbackSummary(
            key=key,
            answers=len(group),
            grades=tuple(sum(g is grade for g in grades) for grade in Grade),  # type: ignore[arg-type]
            mean_points=sum(g.points for g in grades) / len(grades) if grades else None,
            promoters=sum(s >= 9 for s in scores),
            passives=sum(7 <= s <= 8 for s in scores),
            detractors=sum(s <= 6 for s in scores),
            loyalty_index=loyalty_index(group),
        ))  # fmt: skip
    return rows


def _feedback_key(f: Feedback, by: By, tz: tzinfo) -> str | None:
    if by is By.SERVICE:
        return f.service_id
    if by is By.WINDOW:
        return None if f.window is None else str(f.window)
    return _hour(f.at, tz)


def feedback_csv(feedback: Iterable[Feedback], tz: tzinfo, delimiter: str = ",") -> str:
    """One row per answer."""
    header = ["час", "послуга", "вікно", "талон", "оцінка", "бали", "рекомендація (0–10)"]
    rows = [
        [_local(f.at, tz), f.service_id, f.window, f.ticket_id, f.grade,
         None if f.grade is None else f.grade.points, f.loyalty]
        for f in feedback
    ]  # fmt: skip
    return _csv(header, rows, delimiter)


def feedback_summary_csv(rows: Sequence[FeedbackSummary], by: By | None = None, delimiter: str = ",") -> str:
    header = ["група" if by is None else BY_TEXT[by], "відповідей",
              *(f"«{g.value}»" for g in Grade), "середній бал",
              "промоутери (9–10)", "нейтральні (7–8)", "критики (0–6)", "індекс лояльності"]  # fmt: skip
    body = [
        [r.key, r.answers, *r.grades, _decimal(r.mean_points, 2), r.promoters, r.passives,
         r.detractors, _decimal(r.loyalty_index, 1)]
        for r in rows
    ]  # fmt: skip
    return _csv(header, body, delimiter)


# --- helpers ---------------------------------------------------------------------------

_T = TypeVar("_T")


def _group(items: Iterable[_T], key: Callable[[_T], str | None]) -> dict[str, list[_T]]:
    groups: dict[str, list[_T]] = {}
    for item in items:
        k = key(item)
        if k is not None:
            groups.setdefault(k, []).append(item)
    return groups


def _natural(key: str) -> tuple[int, int | str]:
    # Window "10" after window "9", not after "1".
    return (0, int(key)) if key.isdecimal() else (1, key)


def _mean(values: Sequence[timedelta]) -> timedelta | None:
    return sum(values, timedelta(0)) / len(values) if values else None


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else round(value.total_seconds())


def _decimal(value: float | None, places: int) -> str | None:
    return None if value is None else f"{value:.{places}f}"


def _local(at: datetime | None, tz: tzinfo) -> str | None:
    return None if at is None else at.astimezone(tz).isoformat(timespec="seconds")


def _csv(header: list[str], rows: Iterable[list[Any]], delimiter: str) -> str:
    # What residents and operators typed (comments, names) cannot become a spreadsheet formula.
    return csv_text(header, (["" if v is None else v for v in row] for row in rows), delimiter)
