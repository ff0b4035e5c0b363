"""What every HTTP server of the project shares: JSON errors, body reading, serving.

Errors have one JSON shape everywhere (:mod:`edge.errors`)::

    {"error": {"code": …, "message": …, "message_en": …, "details": {…}}}

so a console, a kiosk or a script can act on the code and show the message.
A handler may raise an :class:`edge.errors.Refusal`; :func:`refusals` (the
middleware every server of the project installs) answers it with its status.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from aiohttp import web

from edge.errors import Refusal

log = logging.getLogger("hromada.web")

MAX_BODY = web.AppKey("max_body", int)


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None, *,
          message_en: str = "", details: dict[str, Any] | None = None) -> web.HTTPException:
    """An aiohttp HTTP exception carrying the JSON error body."""
    return refusal_http(Refusal(code, message, message_en, status=status, details=details), headers)


def refusal_http(refusal: Refusal, headers: dict[str, str] | None = None) -> web.HTTPException:
    """The HTTP answer to a refusal: its status and ``{"error": refusal.to_dict()}``."""
    exc = web.HTTPException(text=refusal.body().decode(), content_type="application/json", headers=headers)
    exc.set_status(refusal.status)
    return exc


@web.middleware
async def refusals(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer a :class:`Refusal` raised by any handler with its status and the one error body."""
    try:
        return await handler(request)
    except Refusal as refusal:
        raise refusal_http(refusal) from None


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


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter within [lo, hi]; anything else is a 400 naming it (never a 500)."""
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise error(400, "bad_parameter", f"«{name}» має бути цілим числом від {lo} до {hi}",
                    message_en=f"{name} must be a whole number from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise error(400, "bad_parameter", f"«{name}» має бути цілим числом від {lo} до {hi}",
                    message_en=f"{name} must be a whole number from {lo} to {hi}")
    return value


def finite_number(data: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    """A number field of a JSON body within [lo, hi]: NaN, infinity, text and booleans are a 400."""
    value = data.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise error(400, "bad_parameter", f"«{name}» має бути числом від {lo:g} до {hi:g}",
                    message_en=f"{name} must be a number from {lo:g} to {hi:g}")
    return float(value)


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
