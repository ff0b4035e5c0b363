"""An asyncio client of the NUT network protocol, and a poller for one UPS.

:class:`NutClient` speaks to any ``upsd`` (or to our own NUT server) over
asyncio streams; the wire format is :mod:`power.nutproto`'s. :class:`NutPoller`
reads one UPS every ``interval_s`` and applies the stale-data rule: after
``ERR DATA-STALE``, after communication went bad, or when no fresh reading
arrived within ``stale_after_s``, there is no current reading at all (the
last one is kept for the record, never shown as current).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from power.nutproto import (ListCollector, NutErrorCode, NutProtocolError, NutRemoteError,
                            NutReply, NutRequest, UpsView, expect_var, get_var, instcmd, list_cmd,
                            list_ups, list_var, login, logout, parse_reply, password,
                            raise_for_error, username, variables)
from power.status import CommsConfig, CommsHealth, UpsEvent, UpsState, parse_status, status_events

log = logging.getLogger("hromada.power.nut")

DEFAULT_PORT = 3493
_LINE_LIMIT = 64 * 1024  # upsd's lines are short; a longer one is not NUT


class NutConnectionError(ConnectionError):
    """The server could not be reached, went away, or stopped answering."""


class NutClient:
    """One connection to a NUT server; requests are sent and answered one at a time."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                 timeout_s: float = 5.0):
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def connect(self) -> None:
        if self._writer is not None:
            return
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=_LINE_LIMIT), self.timeout_s)
        except (OSError, asyncio.TimeoutError) as e:
            raise NutConnectionError(f"cannot reach {self.host}:{self.port}: {e}") from e

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (OSError, asyncio.TimeoutError):
                pass

    async def __aenter__(self) -> NutClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --- requests -----------------------------------------------------------

    async def list_ups(self) -> dict[str, str]:
        """``{name: description}`` of every UPS the server knows."""
        return {r.args[0]: r.args[1] for r in await self._list(list_ups())}

    async def list_var(self, ups: str) -> dict[str, str]:
        return variables(await self._list(list_var(ups)))

    async def list_cmd(self, ups: str) -> list[str]:
        return [r.args[1] for r in await self._list(list_cmd(ups))]

    async def get_var(self, ups: str, var: str) -> str:
        return expect_var(await self._request(get_var(ups, var)), ups, var)

    async def authenticate(self, user: str, secret: str) -> None:
        """USERNAME and PASSWORD; the server checks them only at LOGIN or INSTCMD."""
        await self._ok(username(user))
        await self._ok(password(secret))

    async def login(self, ups: str) -> None:
        """Be counted as a monitor of ``ups`` (needs the upsmon role on upsd)."""
        await self._ok(login(ups))

    async def instcmd(self, ups: str, cmd: str, value: str | None = None) -> None:
        await self._ok(instcmd(ups, cmd, value))

    async def logout(self) -> None:
        """Say goodbye politely and close; the server may close first."""
        try:
            if self._writer is not None:
                await self._ok(logout())
        except (NutConnectionError, NutProtocolError, NutRemoteError):
            pass
        finally:
            await self.close()

    # --- wire ---------------------------------------------------------------

    async def _ok(self, request: NutRequest) -> None:
        reply = raise_for_error(parse_reply(await self._request(request)))
        if reply.kind != "OK":
            raise NutProtocolError(f"expected OK, got {reply.raw!r}")

    async def _request(self, request: NutRequest) -> str:
        async with self._lock:
            await self._send(request)
            return await self._line()

    async def _list(self, request: NutRequest) -> list[NutReply]:
        collector = ListCollector(request)
        async with self._lock:
            await self._send(request)
            try:
                while not collector.feed(await self._line()):
                    pass
            except NutProtocolError:
                await self.close()  # the rest of the list would be taken for later replies
                raise
        return collector.items

    async def _send(self, request: NutRequest) -> None:
        await self.connect()
        assert self._writer is not None
        try:
            self._writer.write(request.encode())
            await asyncio.wait_for(self._writer.drain(), self.timeout_s)
        except (OSError, asyncio.TimeoutError) as e:
            await self.close()
            raise NutConnectionError(f"send to {self.host}:{self.port} failed: {e}") from e

    async def _line(self) -> str:
        assert self._reader is not None
        try:
            data = await asyncio.wait_for(self._reader.readline(), self.timeout_s)
        except (OSError, asyncio.TimeoutError, ValueError) as e:
            await self.close()  # a late answer would be read as the next one's
            raise NutConnectionError(f"no answer from {self.host}:{self.port}: {e!r}") from e
        if not data.endswith(b"\n"):
            await self.close()
            raise NutConnectionError(f"{self.host}:{self.port} closed the connection")
        return data.decode("latin-1").rstrip("\r\n")


@dataclass(frozen=True, slots=True)
class NutPollerConfig:
    """Which UPS to watch and how often; credentials only to LOGIN or send commands."""

    ups: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    interval_s: float = 2.0
    stale_after_s: float = 15.0  # as upsd's MAXAGE
    timeout_s: float = 5.0
    username: str | None = None
    password: str | None = None
    login: bool = False  # count as a secondary monitor (upsmon semantics)
    comms: CommsConfig = field(default_factory=CommsConfig)


@dataclass(frozen=True, slots=True)
class NutReading:
    """Variables of one UPS from one good LIST VAR, and when (monotonic)."""

    variables: Mapping[str, str]
    at: float

    @property
    def status(self) -> frozenset[str]:
        return parse_status(self.variables.get("ups.status", ""))

    def number(self, name: str) -> float | None:
        """A numeric variable, or None when absent or not a number (never a guess)."""
        try:
            return float(self.variables[name])
        except (KeyError, ValueError):
            return None


class NutPoller:
    """Watches one UPS on a NUT server; reconnects on its own after failures."""

    def __init__(self, config: NutPollerConfig, *, clock: Callable[[], float] = time.monotonic,
                 on_events: Callable[[tuple[UpsEvent, ...]], None] | None = None):
        self.config = config
        self._clock = clock
        self._on_events = on_events
        self.client = NutClient(config.host, config.port, timeout_s=config.timeout_s)
        self.health = CommsHealth()
        self.reading: NutReading | None = None  # the last good one, however old
        self._server_error: str | None = None  # ERR DATA-STALE and the like, until a good poll
        self._tokens: frozenset[str] | None = None
        self._logged_in = False
        self._task: asyncio.Task[None] | None = None

    async def poll(self) -> tuple[UpsEvent, ...]:
        """One LIST VAR; returns (and hands to ``on_events``) what changed."""
        cfg = self.config
        try:
            if not self.client.connected:
                self._logged_in = False
            await self._ensure_login()
            found = await self.client.list_var(cfg.ups)
            if "ups.status" not in found:
                raise NutProtocolError("no ups.status in LIST VAR")
            if "WAIT" in found["ups.status"].split():
                # upsd has the UPS but its driver has not reported yet: no data.
                return self._emit(self._failed("WAIT"))
        except NutRemoteError as e:
            self._server_error = e.code
            return self._emit(self._failed(str(e.code)))
        except (NutConnectionError, NutProtocolError) as e:
            await self.client.close()
            return self._emit(self._failed(type(e).__name__ + f": {e}"))
        self._server_error = None
        self.health, events = self.health.good()
        self.reading = NutReading(found, self._clock())
        tokens = self.reading.status
        events += status_events(self._tokens, tokens)
        self._tokens = tokens
        return self._emit(events)

    async def _ensure_login(self) -> None:
        cfg = self.config
        if cfg.login and not self._logged_in and cfg.username and cfg.password is not None:
            await self.client.authenticate(cfg.username, cfg.password)
            await self.client.login(cfg.ups)
            self._logged_in = True

    def _failed(self, fault: str) -> tuple[UpsEvent, ...]:
        self.health, events = self.health.bad(fault, self.config.comms)
        level = logging.WARNING if events or self.health.consecutive_failures == 1 else logging.DEBUG
        log.log(level, "NUT %s@%s:%d: %s [%d поспіль / in a row]", self.config.ups,
                self.config.host, self.config.port, fault, self.health.consecutive_failures)
        return events

    def _emit(self, events: tuple[UpsEvent, ...]) -> tuple[UpsEvent, ...]:
        if events and self._on_events is not None:
            self._on_events(events)
        return events

    # --- what others read ---------------------------------------------------

    def current(self) -> NutReading | None:
        """The last reading if it is fresh and the server vouches for it, else None."""
        r = self.reading
        if r is None or self._server_error is not None or not self.health.data_ok:
            return None
        if self._clock() - r.at > self.config.stale_after_s:
            return None
        return r

    def ups_state(self) -> UpsState:
        r = self.current()
        if r is not None:
            return UpsState(r.status, r.number("battery.charge"), r.number("battery.runtime"))
        return UpsState(self._tokens or frozenset(), comms_lost=self._tokens is not None)

    def view(self, name: str | None = None, description: str = "") -> UpsView:
        """This UPS as our own NUT server would pass it on."""
        r = self.current()
        return UpsView(name or self.config.ups, description, dict(r.variables) if r else {},
                       connected=self.reading is not None
                       and self._server_error != NutErrorCode.DRIVER_NOT_CONNECTED,
                       stale=r is None)

    async def instcmd(self, cmd: str, value: str | None = None) -> None:
        """An instant command on its own connection, so it never races a poll."""
        cfg = self.config
        if cfg.username is None or cfg.password is None:
            raise NutRemoteError(NutErrorCode.USERNAME_REQUIRED, "no credentials configured")
        async with NutClient(cfg.host, cfg.port, timeout_s=cfg.timeout_s) as c:
            await c.authenticate(cfg.username, cfg.password)
            await c.instcmd(cfg.ups, cmd, value)
            await c.logout()

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"nut-poll-{self.config.ups}")

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.poll()
            except Exception:  # a bug must not stop the watch over the UPS
                log.exception("NUT: помилка опитування / poll failed")
            await asyncio.sleep(max(0.0, self.config.interval_s - (time.monotonic() - started)))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.client.logout()
