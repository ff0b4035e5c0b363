"""A public, read-only live feed over a WebSocket (the broadcast overlay, status pages).

Each viewer gets the current snapshot on connect and every later one; a
viewer that cannot keep up is dropped rather than allowed to slow the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Callable

from aiohttp import WSMsgType, web


class LiveFeed:
    """The viewers of one feed and what they are sent."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]], send_timeout_s: float = 2.0) -> None:
        self.snapshot = snapshot
        self.send_timeout_s = send_timeout_s
        self.viewers: set[web.WebSocketResponse] = set()

    async def handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=15.0)
        await ws.prepare(request)
        self.viewers.add(ws)
        try:
            await ws.send_str(json.dumps(self.snapshot(), ensure_ascii=False))
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.viewers.discard(ws)
        return ws

    async def broadcast(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, ensure_ascii=False)
        for ws in list(self.viewers):
            try:
                await asyncio.wait_for(ws.send_str(text), self.send_timeout_s)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                self.viewers.discard(ws)
                with contextlib.suppress(Exception):
                    await ws.close()

    async def close(self) -> None:
        for ws in list(self.viewers):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"stopping")
        self.viewers.clear()


def staff_token(path: Any) -> str:
    """A staff page's bearer token kept in a file (made on first use, mode 0600)."""
    import os
    import secrets
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24))
    return p.read_text().strip()
