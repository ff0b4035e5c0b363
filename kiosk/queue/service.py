"""The ЦНАП queue service (role ``queue``): the model, durably, for every window, kiosk and screen.

Every change goes one way. Under one asyncio lock the model
(:class:`kiosk.queue.model.Queue`, the *decided* queue) checks the command and
hands its event to the journal callback, which only collects it; the events
then go to a group-committing writer that appends them to SQLite
(synchronous=FULL) together with their reports to the hub (the outbox, in
the same transaction). Only after the commit is the caller answered and the
*committed* queue, a mirror that follows the stored events, advanced: what
any screen, kiosk or page is shown comes from the mirror, so a ticket exists
for anyone only once it is on disk. Because the lock serialises decisions,
two operators pressing "call next" at the same instant get different tickets.

If a commit fails, its callers get an error, every decision queued behind it
is failed too, and the decided queue is rebuilt from the mirror.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, TypeVar

from edge.node import RoleContext
from edge.outbox import Priority, enqueue
from edge.tasks import cancel_and_wait
from kiosk.queue import events as ev
from kiosk.queue import records as journal
from kiosk.queue import report
from kiosk.queue.bookings import new_code
from kiosk.errors import QueueError, ServiceRefusal
from kiosk.queue.model import Queue
from kiosk.queue.settings import QueueSettings
from kiosk.protocol import Refusal
from kiosk.queue.hubside import reports
from kiosk.queue.views import Names
from kiosk.queue.services import QueueConfig
from kiosk.queue.stats import Feedback
from kiosk.queue.tickets import Booking, PauseReason, Ticket, TicketState

log = logging.getLogger("hromada.queue")

T = TypeVar("T")
Writer = Callable[[sqlite3.Connection, int], None]
Action = Callable[[Queue, datetime], T]


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _Pending:
    """Decisions on their way to disk, and whom to tell when they are there."""

    events: list[ev.Event]
    day: date
    future: asyncio.Future[None]
    origin: str | None = None
    outbox: list[tuple[str, dict[str, Any], Priority]] = field(default_factory=list)
    writers: list[Writer] = field(default_factory=list)


class QueueService:
    """The day's queue, its journal, and who is told what."""

    name = "queue"

    def __init__(self, ctx: RoleContext, settings: QueueSettings, config: QueueConfig,
                 clock: Callable[[], datetime] = now_utc) -> None:
        self.ctx = ctx
        self.settings = settings
        self.config = config
        self.names = Names(settings.cnap_name, settings.community_name)
        self.clock = clock
        self.decided: Queue | None = None
        self.committed: Queue | None = None
        self.origins: dict[str, str] = {}  # kiosk request → ticket id, decided
        self.rated: set[str] = set()
        self.seq = 0  # committed batches since start: the board's sequence number
        self.listeners: list[Callable[[], None]] = []
        self._committed_origins: dict[str, str] = {}
        self._captured: list[ev.Event] | None = None
        self._lock = asyncio.Lock()
        self._rate_lock = asyncio.Lock()
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        await self.ctx.store.migrate(journal.MIGRATIONS)
        self._tasks.append(asyncio.create_task(self._writer(), name="queue-writer"))
        await self._load()

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)

    async def _load(self) -> None:
        snapshot, stored = await self.ctx.store.run(lambda db: journal.load(db))
        if snapshot is None and not stored:
            await self._open_first_day()
        else:
            self.decided, self.committed = (self._rebuild(snapshot, stored) for _ in range(2))
        q = self.committed
        assert q is not None and self.decided is not None
        self.decided.journal = self._capture
        since = q.day - timedelta(days=1)
        self.origins = await self.ctx.store.run(lambda db: journal.origins(db, since))
        self._committed_origins = dict(self.origins)
        self.rated = await self.ctx.store.run(lambda db: journal.rated_tickets(db, since))
        tickets = q.tickets()
        log.info("queue of %s restored: %d tickets (%d waiting, %d at windows), %d windows open, %d calls%s",
                 q.day, len(tickets), sum(t.state is TicketState.WAITING for t in tickets),
                 sum(t.state.at_window for t in tickets), sum(w.state.value == "open" for w in q.windows()),
                 len(q.recent_calls()), f", paused: {q.pause.reason.value}" if q.pause else "")

    def _rebuild(self, snapshot: dict[str, Any] | None, stored: list[dict[str, Any]]) -> Queue:
        if snapshot is None:
            return Queue.replay(self.config, stored)
        q = Queue.from_dict(self.config, snapshot)
        q.follow(stored)
        return q

    async def _open_first_day(self) -> None:
        now = self.clock()
        captured: list[ev.Event] = []
        day = now.astimezone(self.config.timezone).date()
        q = Queue.open(self.config, day, now, journal=captured.append)
        out = reports(self.names, q, captured, day)
        await self.ctx.store.write(lambda conn: self._write_one(conn, captured, day, None, out, []))
        self.decided, self.committed = q, Queue.replay(self.config, captured)
        log.info("queue opened for %s", day)

    def health(self) -> dict[str, Any]:
        q = self.committed
        if q is None:
            return {"day": None}
        waiting: dict[str, int] = {}
        for t in q.tickets():
            if t.state is TicketState.WAITING:
                waiting[t.service_id] = waiting.get(t.service_id, 0) + 1
        return {"day": q.day.isoformat(), "paused": q.pause is not None,
                "waiting": sum(waiting.values()),
                "windows_open": sum(w.state.value == "open" for w in q.windows()),
                "services": [{"id": sv.id, "title": sv.title, "waiting": waiting.get(sv.id, 0)}
                             for sv in self.config.services]}

    # --- the writer: group commit -------------------------------------------------------------

    def _capture(self, e: ev.Event) -> None:
        if self._captured is None:
            raise RuntimeError("a queue event outside a command")  # nothing may bypass the lock
        self._captured.append(e)

    @staticmethod
    def _write_one(conn: sqlite3.Connection, events: list[ev.Event], day: date, origin: str | None,
                   outbox: list[tuple[str, dict[str, Any], Priority]], writers: list[Writer]) -> None:
        last = journal.append(conn, day, events, origin)
        for kind, payload, priority in outbox:
            enqueue(conn, kind, payload, priority)
        for write in writers:
            write(conn, last)

    async def _writer(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())

            def write(conn: sqlite3.Connection) -> None:
                for p in batch:
                    self._write_one(conn, p.events, p.day, p.origin, p.outbox, p.writers)

            try:
                await self.ctx.store.write(write)
            except Exception as exc:
                log.exception("could not commit %d queue changes; rebuilding from what is stored", len(batch))
                await self._fail(batch, exc)
                continue
            assert self.committed is not None
            for p in batch:
                self.committed.follow(p.events)
                if any(isinstance(e, ev.DayRolled) for e in p.events):
                    self.committed.events.clear()  # the day's log is on disk; memory keeps only today
                if p.origin is not None and p.events and isinstance(p.events[0], ev.TicketIssued):
                    self._committed_origins[p.origin] = p.events[0].ticket_id
                if not p.future.done():
                    p.future.set_result(None)
            if any(p.outbox for p in batch):
                self.ctx.outbox.wake()
            if any(p.events for p in batch):
                self.seq += 1
                for listener in self.listeners:
                    listener()

    async def _fail(self, batch: list[_Pending], exc: Exception) -> None:
        async with self._lock:
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(ServiceRefusal(Refusal.UNAVAILABLE, "Не вдалося зберегти зміну; спробуйте ще раз."))
            assert self.committed is not None
            self.decided = Queue.from_dict(self.config, self.committed.to_dict(), journal=self._capture)
            self.origins = dict(self._committed_origins)

    async def run(self, action: Action[T], *, origin: str | None = None,
                  writers: Callable[[Queue], list[Writer]] | None = None) -> T:
        """Decide ``action(queue, now)`` under the lock; return its result once its events are on disk.

        A refused command (:class:`QueueError`) raises here having changed nothing.
        """
        async with self._lock:
            q = self._need()
            now = self.clock()
            day = q.day
            self._captured = []
            try:
                result = action(q, now)
                events = self._captured
            finally:
                self._captured = None
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if events:
                if origin is not None and isinstance(events[0], ev.TicketIssued):
                    self.origins[origin] = events[0].ticket_id
                self._queue.put_nowait(_Pending(events, day, fut, origin, reports(self.names, q, events, day),
                                                writers(q) if writers else []))
            else:
                self._queue.put_nowait(_Pending([], day, fut))  # resolves when all before it are on disk
        await fut
        return result

    def _need(self) -> Queue:
        if self.decided is None:
            raise ServiceRefusal(Refusal.UNAVAILABLE, "Черга ще не готова.")
        return self.decided

    def view(self) -> Queue:
        """The committed queue: what everyone may be shown."""
        if self.committed is None:
            raise ServiceRefusal(Refusal.UNAVAILABLE, "Черга ще не готова.")
        return self.committed

    # --- the kiosk's commands -----------------------------------------------------------------

    async def issue(self, service_id: str, lane: str, person: str | None = None,
                    origin: str | None = None) -> tuple[Ticket, bool]:
        """A walk-in or priority ticket; (ticket, repeat) where repeat means this origin had one already."""
        if lane not in ("walk_in", "priority"):
            raise ServiceRefusal(Refusal.BAD_REQUEST, f"Невідома черга «{lane}»: walk_in або priority.", lane=lane)

        def act(q: Queue, now: datetime) -> tuple[Ticket, bool]:
            if origin is not None and origin in self.origins:
                return q.ticket(self.origins[origin]), True
            if lane == "priority":
                return q.issue_priority(service_id, now, person_id=person), False
            return q.issue_walk_in(service_id, now), False

        ticket, repeat = await self.run(act, origin=origin)
        return self.view().ticket(ticket.id), repeat

    async def check_in(self, code: str, origin: str | None = None) -> tuple[Ticket, bool]:
        def act(q: Queue, now: datetime) -> tuple[Ticket, bool]:
            if origin is not None and origin in self.origins:
                return q.ticket(self.origins[origin]), True
            return q.check_in(code, now), False

        ticket, repeat = await self.run(act, origin=origin)
        return self.view().ticket(ticket.id), repeat

    async def add_bookings(self, bookings: list[Booking]) -> list[Booking]:
        """Add every booking or none: a bad line refuses the whole import, naming the line."""
        def act(q: Queue, now: datetime) -> list[Booking]:
            local_today = q.day
            taken = {b.code for b, _ in q.bookings()} | {b.code for b in bookings}
            coded = []
            for b in bookings:
                code = b.code or new_code(taken)
                taken.add(code)
                coded.append(dataclasses.replace(b, code=code))
            trial = Queue.from_dict(self.config, q.to_dict())  # a dry run: nothing reaches the journal
            for i, b in enumerate(coded, start=1):
                if b.slot_start.astimezone(self.config.timezone).date() < local_today:
                    raise ServiceRefusal(Refusal.BOOKING_IN_PAST, f"Рядок {i}: запис {b.code} на минулий день.",
                                         line=i, code=b.code)
                try:
                    trial.add_booking(b, now)
                except QueueError as exc:
                    raise QueueError(exc.code, f"Рядок {i}: {exc.message}", **{**exc.details, "line": i}) from None
            return [q.add_booking(b, now) for b in coded]

        return await self.run(act)

    async def rate(self, feedback: Feedback, source: str) -> None:
        """Store a rating durably; a ticket may be rated once, after its service finished."""
        async with self._rate_lock:
            if feedback.ticket_id is not None:
                if feedback.ticket_id in self.rated:
                    raise ServiceRefusal(Refusal.ALREADY_RATED, "Цей талон уже оцінено. Дякуємо!")
                t = self.view().ticket(feedback.ticket_id)
                if t.state is not TicketState.DONE:
                    raise ServiceRefusal(Refusal.RATING_NOT_ALLOWED, f"Оцінити можна після завершення обслуговування "
                                         f"(талон {t.label}).", ticket=t.label)
            else:
                self.config.service(feedback.service_id)
            day = feedback.at.astimezone(self.config.timezone).date()
            payload = {"cnap": self.names.cnap, "day": day.isoformat(), "service": feedback.service_id,
                       "window": feedback.window, "grade": None if feedback.grade is None else feedback.grade.value,
                       "loyalty": feedback.loyalty, "source": source}

            def write(conn: sqlite3.Connection) -> None:
                journal.add_feedback(conn, feedback, day, source)
                enqueue(conn, "queue.rating", payload, Priority.EVENT)

            await self.ctx.store.write(write)
            if feedback.ticket_id is not None:
                self.rated.add(feedback.ticket_id)
        self.ctx.outbox.wake()

    # --- the administrator's commands ---------------------------------------------------------------

    async def pause(self, reason: PauseReason, note: str = "") -> None:
        await self.run(lambda q, now: q.pause_queue(reason, now, note))

    async def resume(self) -> None:
        await self.run(lambda q, now: q.resume_queue(now))

    async def roll_over(self, day: date) -> ev.DayRolled:
        """Start ``day`` now; the new state is stored as a snapshot with the rollover, the old day's summary goes to the hub."""
        old = self._need().day
        tz = self.config.timezone

        def writers(q: Queue) -> list[Writer]:
            state = q.to_dict()

            def snapshot(conn: sqlite3.Connection, seq: int) -> None:
                journal.put_snapshot(conn, seq, day, state)
                figures = report.report(old, report.day_visits(conn, old), journal.feedback(conn, old), tz)
                enqueue(conn, "queue.day", {"cnap": self.names.cnap, **figures}, Priority.EVENT)
            return [snapshot]

        def act(q: Queue, now: datetime) -> ev.DayRolled:
            rolled = q.roll_over(day, now)
            q.events.clear()
            return rolled

        rolled = await self.run(act, writers=writers)
        log.info("day rolled over to %s: %d carried, %d expired", day, len(rolled.carried), len(rolled.expired))
        return rolled

    # --- statistics --------------------------------------------------------------------------------

    async def day_data(self, day: date) -> tuple[list[Any], list[Feedback]]:
        return await self.ctx.store.run(lambda db: (report.day_visits(db, day), journal.feedback(db, day)))
