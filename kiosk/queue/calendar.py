"""What the queue does by the clock: a new day at the rollover time, the hour's figures to the hub.

Both are driven by :attr:`QueueService.clock`, never by a second clock, and
both are safe to repeat: a rollover to a day the queue already has is
refused by the model, and an hour already reported is recorded in the same
transaction as its report, so a restart neither skips nor doubles one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from datetime import date, datetime, time, timedelta
from typing import Any

from edge.outbox import Priority, enqueue
from edge.tasks import cancel_and_wait
from kiosk.queue import records as journal
from kiosk.queue import report
from kiosk.errors import QueueError
from kiosk.queue.service import QueueService

log = logging.getLogger("hromada.queue")

ROLLOVER_CHECK_S = 20.0


def business_day(now_local: datetime, rollover_at: time) -> date:
    """The queue day at a local time: before the rollover time it is still the day before."""
    if now_local.time().replace(tzinfo=None) >= rollover_at:
        return now_local.date()
    return now_local.date() - timedelta(days=1)


class QueueCalendar:
    """The rollover and hourly-report timers of one queue."""

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        """Catch up first (a board switched on after a weekend starts today), then keep time."""
        await self.roll_over_if_due()
        self._tasks.append(asyncio.create_task(self._rollover_loop(), name="queue-rollover"))
        self._tasks.append(asyncio.create_task(self._hourly_loop(), name="queue-hourly"))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)

    def _local_now(self) -> datetime:
        return self.service.clock().astimezone(self.service.config.timezone)

    async def roll_over_if_due(self) -> None:
        s = self.service
        due = business_day(self._local_now(), s.settings.rollover_time)
        if s.decided is not None and due > s.decided.day:
            with contextlib.suppress(QueueError):
                await s.roll_over(due)

    async def _rollover_loop(self) -> None:
        while True:
            await asyncio.sleep(ROLLOVER_CHECK_S)
            try:
                await self.roll_over_if_due()
            except Exception:
                log.exception("day rollover failed; will try again")

    async def send_hour(self, day: date, hour: int) -> bool:
        """Report one local hour's figures to the hub (once); True if sent now."""
        s = self.service
        key = f"{day.isoformat()}T{hour:02d}"
        tz = s.config.timezone

        def write(conn: sqlite3.Connection) -> bool:
            if journal.get_kv(conn, "hourly_sent") == key:
                return False
            figures = report.hour_aggregate(day, hour, report.day_visits(conn, day), tz)
            enqueue(conn, "queue.hourly", {"cnap": s.names.cnap, **figures}, Priority.EVENT)
            journal.put_kv(conn, "hourly_sent", key)
            return True

        sent = await s.ctx.store.write(write)
        if sent:
            s.ctx.outbox.wake()
        return sent

    async def _hourly_loop(self) -> None:
        while True:
            local = self._local_now()
            this_hour = local.replace(minute=0, second=0, microsecond=0)
            await asyncio.sleep(((this_hour + timedelta(hours=1)) - local).total_seconds() + 1.0)
            try:
                await self.send_hour(this_hour.date(), this_hour.hour)
            except Exception:
                log.exception("hourly figures not sent")
