"""This node's own shutdown: asked for by the plan (the last step) or by the hub's signed command.

The hub sends ``shutdown`` over the node's WebSocket (``edge.hubclient``
command handlers) when another node's power plan names this one. What
"shut down" means on a board is a configured command (``systemctl
poweroff``); without one, the request is only recorded and logged, which is
what the demo and the tests want. The command runs a moment after the
reply, so the hub hears that it was accepted before the network goes.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from typing import Any, Awaitable, Callable

from edge.timeutil import iso_utc

log = logging.getLogger("hromada.shutdown")

REPLY_GRACE_S = 1.0
MAX_DELAY_S = 3600.0

Recorder = Callable[[dict[str, Any]], Awaitable[None]]


class ShutdownRunner:
    """Carries out shutdown requests once each; remembers them for health and the tests."""

    def __init__(self, command: str, record: Recorder | None = None) -> None:
        self.command = shlex.split(command) if command else []
        self.record = record
        self.requests: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def requested(self) -> bool:
        return bool(self.requests)

    async def request(self, reason: str, by: str, delay_s: float = 0.0) -> dict[str, Any]:
        """Record the request and, if a command is configured, run it after ``delay_s``."""
        entry = {"at": iso_utc(), "reason": reason[:200], "by": by[:100], "delay_s": delay_s,
                 "command": " ".join(self.command)}
        self.requests.append(entry)
        log.warning("вимкнення вузла / node shutdown requested by %s: %s%s", by, reason,
                    "" if self.command else " (команду не задано: лише записано / no command: recorded only)")
        if self.record is not None:
            await self.record(entry)
        if self.command and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(delay_s), name="node-shutdown")
        return {"accepted": True, "will_run": bool(self.command), "delay_s": delay_s}

    async def handle(self, args: dict[str, Any]) -> dict[str, Any]:
        """The hub's ``shutdown`` command: ``{"reason": str, "by": str, "delay_s": number}``."""
        reason, by, delay = args.get("reason", ""), args.get("by", "hub"), args.get("delay_s", 0)
        if not isinstance(reason, str) or not isinstance(by, str):
            raise ValueError("reason and by must be strings")
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= MAX_DELAY_S:
            raise ValueError(f"delay_s must be a number from 0 to {MAX_DELAY_S:.0f}")
        return await self.request(reason or "hub", by, float(delay))

    async def _run(self, delay_s: float) -> None:
        await asyncio.sleep(REPLY_GRACE_S + delay_s)
        log.warning("виконую / running: %s", " ".join(self.command))
        try:
            proc = await asyncio.create_subprocess_exec(*self.command, stdin=asyncio.subprocess.DEVNULL)
            code = await proc.wait()
        except OSError as exc:
            log.error("команда вимкнення не виконалась / shutdown command failed: %s", exc)
            return
        if code:
            log.error("команда вимкнення завершилась з кодом %d / shutdown command exited with %d", code, code)

    async def close(self) -> None:
        # A pending shutdown is not cancelled by our own stop: systemd stopping us is part of it.
        return None
