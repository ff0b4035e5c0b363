"""What every HTTP server of the project shares: JSON errors, body reading, serving.

Errors are JSON objects ``{"error": {"code": …, "message": …}}`` so a console,
a kiosk or a script can act on the code and show the message.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger("hromada.web")

MAX_BODY = web.AppKey("max_body", int)


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.HTTPException:
    """An aiohttp HTTP exception carrying a JSON error body."""
    body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False)
    cls = web.HTTPException
    exc = cls(text=body, content_type="application/json", headers=headers)
    exc.set_status(status)
    return exc


async def read_body(request: web.Request) -> bytes:
    """The raw body, refusing a wrong content type (415) or an oversized body (413)."""
    if request.method in ("POST", "PUT", "PATCH") and request.content_type != "application/json":
        raise error(415, "unsupported_media_type", "send Content-Type: application/json")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise error(413, "too_large", f"body larger than {request.app[MAX_BODY]} bytes") from None


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise error(400, "bad_json", f"body is not valid UTF-8 JSON: {exc}") from None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(data, ensure_ascii=False).encode("utf-8"),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class Server:
    """An aiohttp application served on one address; port 0 picks a free port."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        # A short shutdown: sockets still open then are peers that reconnect by themselves.
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None and server.sockets:  # type: ignore[union-attr]
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
