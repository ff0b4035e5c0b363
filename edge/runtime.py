"""Process plumbing shared by ``hromada node`` and ``hromada hub``: logging, signals."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Awaitable, Callable


class _ContextFilter(logging.Filter):
    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def filter(self, record: logging.LogRecord) -> bool:
        record.context = self.context
        return True


def setup_logging(level: str, context: str) -> None:
    """One line per event on stderr (journald adds the time), tagged with role and node."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(context))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(context)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log and zeroconf's chatter are not events of ours.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("zeroconf").setLevel(logging.WARNING)


async def run_until_signal(start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]) -> None:
    """Start, wait for SIGINT or SIGTERM, stop (goodbye packets, closed database)."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await start()
        await stopping.wait()
    finally:
        await stop()
