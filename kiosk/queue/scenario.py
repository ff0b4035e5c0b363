"""A ЦНАП day for ``hromada demo``: visitors at a kiosk, three operators, one air-raid alert.

Visitors take tickets through :class:`kiosk.queue.links.KioskDesk`, the very
path a kiosk's requests take; booked visitors are imported through the
booking API's path and later check in by code; operators call, recall,
start, finish, redirect and mark no-shows through the same commands the
operator page sends. Time is compressed: a service takes seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from datetime import timedelta
from typing import Any

from edge.tasks import cancel_and_wait
from kiosk.errors import QueueError, ServiceRefusal
from kiosk.queue.links import KioskDesk
from kiosk.queue.service import QueueService
from kiosk.queue.tickets import Booking, PauseReason, WindowState

log = logging.getLogger("hromada.queue.demo")

KIOSK = "demo-kiosk"
BASE_URL = "http://127.0.0.1"
ARRIVAL_S = (3.0, 7.0)  # between visitors
WALK_S = (1.5, 3.0)  # from the call to the window
SERVICE_S = (5.0, 12.0)
ALERT_AFTER_S = 150.0
ALERT_FOR_S = 25.0


class DemoDay:
    """The demo's visitors and operators, as asyncio tasks of the queue node."""

    def __init__(self, service: QueueService, desk: KioskDesk, seed: int = 5) -> None:
        self.service = service
        self.desk = desk
        self.random = random.Random(seed)
        self.codes: list[str] = []
        self._tasks: list[asyncio.Task[Any]] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="queue-demo"))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)

    async def _run(self) -> None:
        await asyncio.sleep(1.0)
        await self._open_windows()
        await self._book()
        windows = self.service.config.windows
        self._tasks += [asyncio.create_task(self._operator(n), name=f"queue-demo-window-{n}") for n in windows]
        self._tasks.append(asyncio.create_task(self._alert(), name="queue-demo-alert"))
        await self._visitors()

    async def _open_windows(self) -> None:
        for n in self.service.config.windows:
            if self.service.view().window(n).state is WindowState.CLOSED:
                await self._quiet(self.service.run(lambda q, now, n=n: q.open_window(n, now)))

    async def _book(self) -> None:
        """Three residents booked by phone: slots in the next minutes, codes made by the queue."""
        now = self.service.clock()
        services = [s.id for s in self.service.config.services]
        bookings = [Booking("", self.random.choice(services), now + timedelta(minutes=m)) for m in (1, 2, 4)]
        added = await self._quiet(self.service.add_bookings(bookings))
        self.codes = [b.code for b in added or []]
        log.info("demo bookings: %s", ", ".join(self.codes))

    async def _visitors(self) -> None:
        services = [s.id for s in self.service.config.services]
        n = 0
        while True:
            n += 1
            if self.codes and n % 4 == 0:
                message = {"type": "check_in", "id": str(uuid.uuid4()), "code": self.codes.pop(0)}
            else:
                lane = "priority" if self.random.random() < 0.15 else "walk_in"
                message = {"type": "issue", "id": str(uuid.uuid4()), "service": self.random.choice(services),
                           "lane": lane, "person": f"demo-person-{n}" if lane == "priority" else None}
            answer = await self.desk.handle(message, KIOSK, BASE_URL)
            if answer["type"] == "issued":
                log.info("visitor took %s", answer["ticket"]["label"])
            await asyncio.sleep(self.random.uniform(*ARRIVAL_S))

    async def _operator(self, window: int) -> None:
        await asyncio.sleep(self.random.uniform(2.0, 6.0))
        while True:
            ticket = await self._quiet(self.service.run(lambda q, now: q.call_next(window, now)))
            if ticket is None:
                await asyncio.sleep(2.0)
                continue
            await asyncio.sleep(self.random.uniform(*WALK_S))
            roll = self.random.random()
            if roll < 0.08:
                await self._no_show(window)
                continue
            await self._quiet(self.service.run(lambda q, now: q.start(window, now)))
            await asyncio.sleep(self.random.uniform(*SERVICE_S))
            if roll < 0.18:
                await self._redirect(window, ticket.service_id)
            else:
                done = await self._quiet(self.service.run(lambda q, now: q.finish(window, now)))
                if done is not None and self.random.random() < 0.5:
                    await self._rate(done.id)

    async def _no_show(self, window: int) -> None:
        for _ in range(self.service.config.recalls_before_no_show):
            await self._quiet(self.service.run(lambda q, now: q.recall(window, now)))
            await asyncio.sleep(self.random.uniform(*WALK_S))
        await self._quiet(self.service.run(lambda q, now: q.mark_no_show(window, now)))

    async def _redirect(self, window: int, service_id: str) -> None:
        others = [s.id for s in self.service.config.services if s.id != service_id]
        target = self.random.choice(others)
        await self._quiet(self.service.run(lambda q, now: q.redirect(
            window, now, to_service=target, comment="потрібна довідка іншого відділу")))

    async def _rate(self, ticket_id: str) -> None:
        grade = self.random.choice(["чудово", "чудово", "добре", "прийнятно", "погано"])
        await self.desk.handle({"type": "rate", "id": str(uuid.uuid4()), "ticket": ticket_id, "grade": grade,
                                "loyalty": self.random.choice([10, 9, 9, 8, 7, 5])}, KIOSK, BASE_URL)

    async def _alert(self) -> None:
        await asyncio.sleep(ALERT_AFTER_S)
        if await self._quiet(self.service.pause(PauseReason.AIR_RAID, "усі до укриття")):
            await asyncio.sleep(ALERT_FOR_S)
            await self._quiet(self.service.resume())

    async def _quiet(self, coro: Any) -> Any:
        """Run a command; a refusal (someone else was faster, the queue is paused) is part of a day."""
        try:
            result = await coro
            return True if result is None else result
        except (QueueError, ServiceRefusal) as exc:
            log.debug("demo: %s", exc)
            return None

