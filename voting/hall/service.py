"""The hall controller (role ``hall``): the sitting's state, durably, for everyone.

Every change goes the same way: the rules (``voting.hall.sitting``) decide under
one lock; the resulting events are appended to the hash-chained journal in
SQLite (synchronous=FULL) by a group-committing writer; only after the
commit are consoles acknowledged, screens updated and the secretary answered.
Ballots pressed at the same moment share one transaction, so 120 consoles do
not wait for 120 fsyncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from edge import errors
from edge.node import RoleContext
from edge.outbox import Priority, enqueue
from edge.tasks import cancel_and_wait
from voting.hall import records as journal
from voting.hall.council_file import CouncilFile
from voting.hall.events import event_from_dict, event_to_dict
from voting.hall.model import Question, Sitting
from voting.hall.opendata import motion_row, voting_rows
from voting.hall.settings import HallSettings
from voting.hall.sitting import SittingState, replay
from voting.refusals import HALL

log = logging.getLogger("hromada.hall")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _Pending:
    events: list[dict[str, Any]]
    state_after: SittingState | None
    outbox: list[tuple[str, Callable[[str], dict[str, Any]], Priority]]
    kv: dict[str, Any]
    future: asyncio.Future[None]


@dataclass
class HallService:
    """The sitting, its journal, and who is told what."""

    ctx: RoleContext
    settings: HallSettings
    council: CouncilFile
    name: str = "hall"
    state: SittingState | None = None          # decided (maybe not yet committed)
    committed: SittingState | None = None      # on disk: what anyone is shown
    registration_open: bool = True
    agenda: list[dict[str, Any]] = field(default_factory=list)
    listeners: list[Callable[[], None]] = field(default_factory=list)
    _hash: str = journal.GENESIS
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _queue: asyncio.Queue[_Pending] = field(default_factory=asyncio.Queue)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _closer: asyncio.TimerHandle | None = None
    _durations: dict[str, float] = field(default_factory=dict)
    _seq: int = 0

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        await self.ctx.store.migrate(journal.MIGRATIONS)
        await self._load()
        self._tasks.append(asyncio.create_task(self._writer(), name="hall-writer"))
        await self.load_durations()

    async def _load(self) -> None:
        def read(conn: Any) -> tuple[list[dict[str, Any]], str, bool, list[dict[str, Any]]]:
            return (journal.current_sitting(conn), journal.last_hash(conn),
                    journal.get_kv(conn, "registration_open", True), journal.get_kv(conn, "agenda", []))
        events, self._hash, self.registration_open, self.agenda = await self.ctx.store.run(read)
        self.state = replay([event_from_dict(e) for e in events]) if events else None
        self.committed = self.state
        if self.state is not None:
            open_vote = self.state.current_vote
            log.info("restored sitting %s session %s: %d events, %d registered%s", self.state.sitting.date,
                     self.state.sitting.session, len(events), len(self.state.registered),
                     f", vote {open_vote.uid} open with {len(open_vote.ballots)} ballots" if open_vote else "")

    async def stop(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
        await cancel_and_wait(self._tasks)

    def health(self) -> dict[str, Any]:
        s = self.committed
        return {"sitting": s.sitting.date.isoformat() if s else None,
                "registered": len(s.registered) if s else 0,
                "vote_open": bool(s and s.current_vote)}

    # -- the writer: group commit -------------------------------------------------

    async def _writer(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())

            def write(conn: Any) -> str:
                h = self._hash
                for p in batch:
                    h = journal.append(conn, h, p.events)
                    for kind, payload, prio in p.outbox:
                        enqueue(conn, kind, payload(h), prio)
                    for key, value in p.kv.items():
                        journal.put_kv(conn, key, value)
                return h

            try:
                self._hash = await self.ctx.store.write(write)
            except Exception as exc:
                log.exception("could not commit %d hall changes; reloading from disk", len(batch))
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
                async with self._lock:
                    await self._load()
                continue
            for p in batch:
                if p.state_after is not None:
                    self.committed = p.state_after
                if not p.future.done():
                    p.future.set_result(None)
            if any(p.outbox for p in batch):
                self.ctx.outbox.wake()
            self._seq += 1
            for listener in self.listeners:
                listener()

    async def _commit(self, events: list[Any], state_after: SittingState | None,
                      outbox: list[tuple[str, Callable[[str], dict[str, Any]], Priority]] | None = None,
                      kv: dict[str, Any] | None = None) -> asyncio.Future[None]:
        """Queue events for the writer (call under the lock); await the result outside it."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending([event_to_dict(e) for e in events if e is not None], state_after,
                                        outbox or [], kv or {}, fut))
        return fut

    # -- commands -----------------------------------------------------------------

    def _need_sitting(self) -> SittingState:
        if self.state is None:
            raise HALL.refuse("no_sitting")
        return self.state

    async def start_sitting(self, session: int, day: date | None = None, head_takes_part: bool | None = None,
                            convocation: int | None = None) -> SittingState:
        async with self._lock:
            if self.state is not None and self.state.current_vote is not None:
                raise HALL.refuse("vote_open")
            sitting = Sitting(convocation=convocation or self.council.convocation, session=session,
                              date=day or now_utc().date(),
                              head_takes_part=(self.settings.head_takes_part and self.council.council.head is not None)
                              if head_takes_part is None else head_takes_part)
            state, event = SittingState.start(self.council.council, sitting, at=now_utc())
            self.state = state
            fut = await self._commit([event], state, kv={"registration_open": True})
            self.registration_open = True
        await fut
        log.info("sitting started: convocation %d, session %d, %s", sitting.convocation, session, sitting.date)
        return state

    async def set_registration(self, open_: bool) -> None:
        async with self._lock:
            self._need_sitting()
            self.registration_open = open_
            fut = await self._commit([], None, kv={"registration_open": open_})
        await fut

    async def register(self, voter_id: str, present: bool, by: str | None) -> None:
        async with self._lock:
            state = self._need_sitting()
            if present:
                new, event = state.register(voter_id, at=now_utc(), entered_by=by)
            else:
                new, event = state.unregister(voter_id, at=now_utc(), entered_by=by)
            self.state = new
            fut = await self._commit([event], new)
        await fut

    async def set_agenda(self, questions: list[dict[str, Any]]) -> None:
        for q in questions:
            Question.from_dict(q)  # refuse a bad agenda before storing any of it
        async with self._lock:
            self.agenda = questions
            fut = await self._commit([], None, kv={"agenda": questions})
        await fut

    async def open_vote(self, question: Question, duration_s: float | None = None,
                        override_by: str | None = None) -> str:
        async with self._lock:
            state = self._need_sitting()
            at = now_utc()
            # <date>-<n>, n continuing across the day's sittings: a second sitting (or a second «start»)
            # on the same day never reuses a uid the hub has published.
            day = state.sitting.date.isoformat()
            used = await self.ctx.store.run(lambda db: journal.last_vote_ordinal(db, day))
            in_memory = max((journal.vote_ordinal(v.uid, day) for v in state.votes), default=0)
            uid = f"{day}-{max(used, in_memory) + 1}"
            prepared, e1 = state.prepare_vote(question, at=at, allow_change=self.settings.allow_change, uid=uid)
            opened, e2 = prepared.open_vote(e1.vote_uid, at=at, quorum_override_by=override_by)
            self.state = opened
            duration = self.settings.vote_duration_s if duration_s is None else duration_s
            kv = {f"duration:{e1.vote_uid}": duration}
            fut = await self._commit([e1, e2], opened, kv=kv)
            self._durations[e1.vote_uid] = duration
        await fut
        self._schedule_close()
        log.info("vote %s opened: %s", e1.vote_uid, question.title)
        return e1.vote_uid

    async def close_vote(self, uid: str) -> bool:
        async with self._lock:
            state = self._need_sitting()
            new, event = state.close_vote(uid, at=now_utc())
            if event is None:
                return False  # already closed: the timer and the chair may both fire
            self.state = new
            vote = new.vote(uid)
            council, sitting = new.council, new.sitting

            def result(chain_hash: str) -> dict[str, Any]:
                return {"council": {"name": council.name, "edrpou": council.edrpou, "katottg": council.katottg},
                        "sitting": sitting.to_dict(), "motion": motion_row(council, sitting, vote),
                        "votings": voting_rows(council, vote), "chain_hash": chain_hash}

            fut = await self._commit([event], new, outbox=[("voting.result", result, Priority.CRITICAL)])
        await fut
        t = vote.tally
        log.info("vote %s closed: %s (За %d, threshold %s)", uid, vote.outcome, t.for_, vote.threshold)
        return True

    async def cancel_vote(self, uid: str, reason: str, by: str) -> None:
        async with self._lock:
            new, event = self._need_sitting().cancel_vote(uid, reason=reason, cancelled_by=by, at=now_utc())
            self.state = new
            vote = new.vote(uid)
            council, sitting = new.council, new.sitting
            fut = await self._commit([event], new, outbox=[("voting.result", lambda h: {
                "council": {"name": council.name, "edrpou": council.edrpou, "katottg": council.katottg},
                "sitting": sitting.to_dict(), "motion": motion_row(council, sitting, vote), "votings": [],
                "chain_hash": h}, Priority.CRITICAL)])
        await fut

    async def manual_entry(self, uid: str, voter_id: str, choice: str, by: str, reason: str) -> None:
        async with self._lock:
            new, event = self._need_sitting().enter_manually(uid, voter_id, choice, entered_by=by, at=now_utc(),
                                                               reason=reason)
            self.state = new
            fut = await self._commit([event], new)
        await fut

    async def ballot(self, uid: str | None, voter_id: str, choice: str, console: str | None = None) -> None:
        async with self._lock:
            state = self._need_sitting()
            current = state.current_vote
            new, event = state.cast_ballot(uid or (current.uid if current else ""), voter_id, choice, at=now_utc(),
                                           console=console)
            self.state = new
            fut = await self._commit([event], new)
        await fut

    # -- timers ---------------------------------------------------------------------------

    def closes_at(self) -> datetime | None:
        state = self.committed
        vote = state.current_vote if state else None
        if vote is None or vote.opened_at is None:
            return None
        duration = self._durations.get(vote.uid, self.settings.vote_duration_s)
        return vote.opened_at + timedelta(seconds=duration) if duration > 0 else None

    def _schedule_close(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        state = self.state
        vote = state.current_vote if state else None
        if vote is None or vote.opened_at is None:
            return
        duration = self._durations.get(vote.uid, self.settings.vote_duration_s)
        if duration <= 0:
            return
        delay = max(0.0, (vote.opened_at + timedelta(seconds=duration) - now_utc()).total_seconds())
        uid = vote.uid
        self._closer = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(self._auto_close(uid)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _auto_close(self, uid: str) -> None:
        with contextlib.suppress(errors.Refusal):
            if await self.close_vote(uid):
                log.info("vote %s closed by its timer", uid)

    async def load_durations(self) -> None:
        def read(db: Any) -> dict[str, float]:
            rows = db.execute("SELECT key, value FROM hall_kv WHERE key LIKE 'duration:%'").fetchall()
            return {k.split(":", 1)[1]: float(v) for k, v in rows}
        self._durations.update(await self.ctx.store.run(read))
        self._schedule_close()
