"""sd_notify in pure Python: READY, STATUS, WATCHDOG, STOPPING.

Inert when not under systemd (no ``NOTIFY_SOCKET``). The watchdog ping is
sent only after a health check proves that the event loop turns and the
database writer answers; it is never tied to reaching the hub, because a
node must keep running through a hub outage.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Awaitable, Callable, Mapping

log = logging.getLogger("hromada.watchdog")


class Notifier:
    """Sends datagrams to systemd's notification socket."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        addr = env.get("NOTIFY_SOCKET", "")
        if addr.startswith("@"):
            addr = "\0" + addr[1:]  # abstract namespace
        self._addr = addr or None
        self._watchdog_s: float | None = None
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        if usec and (not pid or pid == str(os.getpid())):
            try:
                self._watchdog_s = int(usec) / 1_000_000
            except ValueError:
                log.warning("ignoring WATCHDOG_USEC=%r: not a number", usec)

    @property
    def enabled(self) -> bool:
        return self._addr is not None

    @property
    def watchdog_interval(self) -> float | None:
        """How often systemd wants a ping (half its timeout), or None."""
        return None if self._watchdog_s is None else self._watchdog_s / 2

    def notify(self, text: str) -> bool:
        if self._addr is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._addr)
                sock.sendall(text.encode("utf-8"))
            return True
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc)
            return False

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def ping(self) -> bool:
        return self.notify("WATCHDOG=1")


async def run_watchdog(notifier: Notifier, healthy: Callable[[], Awaitable[None]], timeout: float = 5.0) -> None:
    """Ping systemd at half its watchdog interval while ``healthy()`` passes."""
    interval = notifier.watchdog_interval
    if interval is None:
        return
    while True:
        try:
            await asyncio.wait_for(healthy(), timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # no ping: systemd restarts us if this lasts
            log.error("health check failed, withholding watchdog ping: %s", exc)
        else:
            notifier.ping()
        await asyncio.sleep(interval)
