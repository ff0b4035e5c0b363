"""Store-and-forward delivery of a node's messages to the hub.

A message is a row in the node's SQLite ``outbox`` table, written in the same
transaction as the fact it reports (:func:`enqueue`), with an id made here
(UUIDv7). The delivery task sends pending rows in batches, most important
first, and marks them sent only after the hub answered 2xx; the hub keeps
``UNIQUE(node_id, msg_id)``, so a batch sent twice is stored once.

When the hub is away the rows wait: exponential backoff with jitter, capped,
``Retry-After`` honoured. When the table grows past ``max_rows`` the oldest
*telemetry* is dropped; votes, tickets, alarms and events never are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Awaitable, Callable

from edge.store import Store
from edge.timeutil import iso_utc, uuid7

log = logging.getLogger("hromada.outbox")


MAX_RETRY_AFTER_S = 3600.0  # a hub asking for more than an hour is misconfigured


class Priority(IntEnum):
    """Lower is sent first. Only TELEMETRY may ever be dropped."""

    CRITICAL = 0   # votes, tickets, alarms
    EVENT = 1      # state changes, health verdicts
    TELEMETRY = 2  # readings, aggregates: may be thinned when space runs short


MIGRATIONS = [
    """
    CREATE TABLE outbox (
        msg_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        priority INTEGER NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        sent_at TEXT,
        rejected TEXT
    );
    CREATE INDEX outbox_pending ON outbox (priority, msg_id) WHERE sent_at IS NULL AND rejected IS NULL;
    CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
    """
]


def enqueue(conn: sqlite3.Connection, kind: str, payload: dict[str, Any], priority: Priority = Priority.EVENT) -> str:
    """Add a message inside the caller's transaction; return its id.

    Call it in the same transaction that records the fact, so the fact and
    its report are committed together or not at all.
    """
    msg_id = uuid7()
    conn.execute(
        "INSERT INTO outbox (msg_id, kind, priority, payload, created_at) VALUES (?, ?, ?, ?, ?)",
        (msg_id, kind, int(priority), json.dumps(payload, ensure_ascii=False, separators=(",", ":")), iso_utc()),
    )
    return msg_id


@dataclass(frozen=True, slots=True)
class Delivery:
    """The hub's answer to one batch."""

    rejected: dict[str, str] = field(default_factory=dict)  # msg_id -> reason; never resent


class RetryLater(Exception):
    """The hub could not take the batch now; try again (after ``retry_after`` when given)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


Sender = Callable[[list[dict[str, Any]]], Awaitable[Delivery]]


@dataclass
class OutboxStats:
    sent: int = 0
    rejected: int = 0
    dropped: int = 0
    failures: int = 0
    pending: int = 0
    last_success_monotonic: float | None = None


class Outbox:
    """The delivery side of the outbox table."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 500,
        max_rows: int = 200_000,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        keep_sent_s: float = 86_400.0,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.max_rows = max_rows
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.keep_sent_s = keep_sent_s
        self.stats = OutboxStats()
        self._wake = asyncio.Event()
        self._hub_back = asyncio.Event()
        self._failures = 0
        self._last_purge = 0.0

    async def put(self, kind: str, payload: dict[str, Any], priority: Priority = Priority.EVENT) -> str:
        """Commit one message and wake the delivery task."""
        msg_id = await self.store.write(lambda conn: enqueue(conn, kind, payload, priority))
        self.wake()
        return msg_id

    def wake(self) -> None:
        """Something was enqueued (or the hub came back): deliver now."""
        self._wake.set()

    def backoff_delay(self, failures: int) -> float:
        """Exponential backoff with jitter, capped: about 1, 2, 4 … 60 s."""
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * (2 ** max(0, failures - 1)))
        return random.uniform(ceiling / 2, ceiling)

    async def pending_count(self) -> int:
        return await self.store.run(
            lambda db: db.execute(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND rejected IS NULL"
            ).fetchone()[0]
        )

    def _take_batch(self, conn: sqlite3.Connection) -> list[dict[str, Any]]:
        rows = conn.execute(
            "SELECT msg_id, kind, priority, payload, created_at FROM outbox"
            " WHERE sent_at IS NULL AND rejected IS NULL ORDER BY priority, msg_id LIMIT ?",
            (self.batch_size,),
        ).fetchall()
        return [
            {"msg_id": r[0], "kind": r[1], "priority": r[2], "payload": json.loads(r[3]), "created_at": r[4]}
            for r in rows
        ]

    def _trim(self, conn: sqlite3.Connection) -> int:
        """Drop the oldest telemetry beyond ``max_rows``; return how many."""
        pending = conn.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND rejected IS NULL"
        ).fetchone()[0]
        self.stats.pending = pending
        excess = pending - self.max_rows
        if excess <= 0:
            return 0
        cur = conn.execute(
            "DELETE FROM outbox WHERE msg_id IN (SELECT msg_id FROM outbox WHERE sent_at IS NULL"
            " AND rejected IS NULL AND priority = ? ORDER BY msg_id LIMIT ?)",
            (int(Priority.TELEMETRY), excess),
        )
        return cur.rowcount

    async def deliver_once(self, send: Sender) -> int:
        """Send one batch; return how many messages left the outbox (0: nothing pending).

        Raises RetryLater when the hub did not take it.
        """
        dropped = await self.store.write(self._trim)
        if dropped:
            self.stats.dropped += dropped
            log.warning("outbox over %d rows: dropped %d oldest telemetry messages", self.max_rows, dropped)
        batch = await self.store.run(lambda db: self._take_batch(db))
        if not batch:
            return 0
        ids = [m["msg_id"] for m in batch]
        try:
            result = await send(batch)
        except RetryLater:
            await self.store.write(lambda conn: conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1 WHERE msg_id = ?", [(i,) for i in ids]))
            raise
        now = iso_utc()

        def mark(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE outbox SET sent_at = ?, attempts = attempts + 1 WHERE msg_id = ?",
                [(now, i) for i in ids if i not in result.rejected],
            )
            conn.executemany(
                "UPDATE outbox SET rejected = ?, attempts = attempts + 1 WHERE msg_id = ?",
                [(reason, i) for i, reason in result.rejected.items()],
            )

        await self.store.write(mark)
        for msg_id, reason in result.rejected.items():
            log.error("hub refused message %s for good: %s", msg_id, reason)
        self.stats.sent += len(ids) - len(result.rejected)
        self.stats.rejected += len(result.rejected)
        self.stats.last_success_monotonic = time.monotonic()
        return len(ids)

    async def _purge_sent(self) -> None:
        cutoff = iso_utc(time.time() - self.keep_sent_s)
        await self.store.write(lambda conn: conn.execute(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", (cutoff,)))

    async def run(self, send: Sender, ready: Callable[[], Awaitable[None]] | None = None) -> None:
        """Deliver forever. ``ready`` is awaited before each attempt (e.g. until enrolled)."""
        while True:
            if ready is not None:
                await ready()
            # Cleared before looking, so an enqueue during the look still wakes us.
            self._wake.clear()
            try:
                moved = await self.deliver_once(send)
            except RetryLater as exc:
                self._failures += 1
                self.stats.failures += 1
                delay = exc.retry_after if exc.retry_after is not None else self.backoff_delay(self._failures)
                delay = min(max(delay, 0.05), MAX_RETRY_AFTER_S)
                log.info("delivery to the hub failed (%s); next try in %.1f s", exc, delay)
                # New messages must not turn the backoff into a hot loop; only
                # news that the hub is back cuts it short.
                self._hub_back.clear()
                await _wait_event(self._hub_back, delay)
                continue
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop delivery for good
                log.exception("outbox delivery error")
                self._failures += 1
                await asyncio.sleep(self.backoff_delay(self._failures))
                continue
            self._failures = 0
            if moved:
                continue
            if time.monotonic() - self._last_purge > 600:
                self._last_purge = time.monotonic()
                await self._purge_sent()
            await _wait_event(self._wake, 30.0)

    def hub_is_back(self) -> None:
        """The hub answered again (e.g. its WebSocket reconnected): stop backing off."""
        self._hub_back.set()
        self._wake.set()


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
