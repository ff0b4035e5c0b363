"""Stopping background tasks: the one way every role and the hub do it.

A role's ``stop()`` cancels the tasks it started and waits for them to end,
so nothing writes to a closed database. A task that had already failed is
logged here with its traceback (it would otherwise vanish with the task),
and never keeps the others from being stopped. If the caller itself is
cancelled while waiting, that cancellation is not swallowed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Future[object] | None]) -> None:
    """Cancel every task (``None`` entries are skipped) and wait until each has ended."""
    pending = [t for t in tasks if t is not None]
    for task in pending:
        task.cancel()
    if not pending:
        return
    results = await asyncio.gather(*pending, return_exceptions=True)
    for task, result in zip(pending, results):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
            log.error("task %s had ended with an error", name, exc_info=result)
