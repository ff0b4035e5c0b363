"""A node's link to its hub: find it, enroll, heartbeat, deliver, listen.

Where the hub is comes from configuration or from mDNS; *who* it is comes
from the enrollment code (it carries the hub key's fingerprint) and, once
enrolled, from the hub key pinned in the node's database. Every request is
signed; every answer must carry the pinned hub's signature, so a stranger
answering on the hub's address is not believed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp

from edge import __version__, outbox
from edge.config import NodeConfig
from edge.discovery import HUB_SERVICE, Discovery, Peer
from edge.hub.registry import EnrollmentCode, enrollment_proof
from edge.identity import H_NONCE, Identity, SignatureError, check_response, fingerprint, b64d, open_sealed, seal
from edge.outbox import Delivery, RetryLater
from edge.store import Store

log = logging.getLogger("hromada.hubclient")

# A hub command older or newer than this (by the hub's clock) is refused.
COMMAND_TTL_S = 120.0

MIGRATIONS = [
    """
    CREATE TABLE node_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """
]

CommandHandler = Callable[[dict[str, Any]], Awaitable[Any]]
RosterListener = Callable[[list[dict[str, Any]]], None]


class HubUnavailable(Exception):
    """The hub could not be reached or did not answer as the pinned hub."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class HubRefused(Exception):
    """The hub answered, and said no."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class HubClient:
    """Everything a node says to and hears from the hub."""

    def __init__(self, config: NodeConfig, identity: Identity, store: Store, discovery: Discovery | None,
                 port_of: Callable[[], int], outbox_pending: Callable[[], int] | None = None) -> None:
        self.config = config
        self.identity = identity
        self.store = store
        self.discovery = discovery
        self.port_of = port_of
        self.outbox_pending = outbox_pending or (lambda: 0)
        self.state: dict[str, str] = {}
        self.hub_url: str = config.hub.url.rstrip("/")
        self.heartbeat_interval_s = 10.0
        self.clock_offset_s: float | None = None
        self.roster: list[dict[str, Any]] = []
        self.connected = asyncio.Event()
        self.approved = asyncio.Event()
        self.command_handlers: dict[str, CommandHandler] = {"ping": self._ping}
        self._seen_commands: dict[str, float] = {}  # command id -> when run (monotonic): replays are refused
        self.roster_listeners: list[RosterListener] = []
        self.on_hub_back: list[Callable[[], None]] = []
        self.on_enqueued: Callable[[], None] = lambda: None  # the outbox's wake, when this writes to it
        self.roles_health: Callable[[], dict[str, Any]] = dict
        self._session: aiohttp.ClientSession | None = None
        self._started = time.monotonic()
        self._browsing = False

    # -- persistent state -----------------------------------------------------------

    async def load_state(self) -> None:
        self.state = await self.store.run(
            lambda db: dict(db.execute("SELECT key, value FROM node_state").fetchall()))
        if not self.hub_url and self.state.get("hub_url"):
            self.hub_url = self.state["hub_url"]
        if self.state.get("roster"):
            self.roster = json.loads(self.state["roster"])
        if self.state.get("status") == "approved":
            self.approved.set()

    async def _save(self, **values: str) -> None:
        self.state.update(values)
        await self.store.write(lambda conn: conn.executemany(
            "INSERT INTO node_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            list(values.items())))

    @property
    def hub_key(self) -> str | None:
        return self.state.get("hub_key")

    @property
    def site(self) -> str:
        return self.state.get("site", self.config.node.site)

    # -- requests ---------------------------------------------------------------------------

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.hub.request_timeout_s))
        return self._session

    async def request(self, method: str, path: str, data: Any = None, pin: EnrollmentCode | None = None) -> Any:
        """One signed request; returns the JSON answer of a 2xx.

        With ``pin`` and no hub key pinned yet (the first enrollment), the
        key comes in the answer: it is pinned only when its fingerprint is
        the one the enrollment code carries and it signed the answer.

        Raises HubUnavailable (network, 5xx, 429, or an answer not signed by
        the pinned hub) or HubRefused (the hub said no).
        """
        if not self.hub_url:
            raise HubUnavailable("hub address not known yet")
        body = b"" if data is None else json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = self.identity.sign_request(method, path, body, time.time())
        if data is not None:
            headers["Content-Type"] = "application/json"
        session = await self._http()
        sent = time.time()
        try:
            async with session.request(method, self.hub_url + path, data=body, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
                resp_headers = resp.headers
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise HubUnavailable(f"{type(exc).__name__}: {exc}") from None
        received = time.time()
        if status == 429 or status >= 500:
            raise HubUnavailable(f"hub answered {status}", _retry_after(resp_headers.get("Retry-After")))
        try:
            answer = json.loads(raw)
        except ValueError:
            raise HubUnavailable("hub answer is not JSON") from None
        key = self.hub_key
        if key is None and pin is not None and status < 400:
            key = self._key_to_pin(answer, pin)
        if key is None:
            if status >= 400:
                raise _refusal(status, answer)
            raise HubUnavailable("no hub key pinned")
        try:
            hub_time = check_response(key, headers[H_NONCE], status, resp_headers, raw)
        except SignatureError as exc:
            raise HubUnavailable(str(exc)) from None
        self.clock_offset_s = hub_time - (sent + received) / 2
        if status >= 400:
            raise _refusal(status, answer)
        if key != self.hub_key:
            await self._save(hub_key=key, hub_id=str(answer.get("hub_id", "")))
            log.info("pinned the hub key (fingerprint %s)", pin.hub_fingerprint if pin else "?")
        return answer

    @staticmethod
    def _key_to_pin(answer: Any, code: EnrollmentCode) -> str:
        hub_key = str(answer.get("hub_key", "")) if isinstance(answer, dict) else ""
        try:
            fp = fingerprint(b64d(hub_key))
        except ValueError:
            raise HubUnavailable("hub sent no usable key") from None
        if fp != code.hub_fingerprint:
            raise HubUnavailable(
                f"hub key fingerprint {fp} is not the one in the enrollment code ({code.hub_fingerprint})")
        return hub_key

    # -- finding the hub ---------------------------------------------------------------------

    def _expected_fingerprint(self) -> str | None:
        if self.hub_key:
            return fingerprint(b64d(self.hub_key))
        code = self._enrollment_code()
        return code.hub_fingerprint if code else None

    async def find_hub(self) -> None:
        """Wait until the hub's address is known (configuration, the last one used, or mDNS)."""
        if self.hub_url:
            return
        if self.discovery is None:
            raise RuntimeError("no [hub] url and mDNS discovery is disabled: the hub cannot be found")
        expected = self._expected_fingerprint()
        if not self._browsing:
            await self.discovery.browse(HUB_SERVICE)
            self._browsing = True
        while True:
            peer = await self.discovery.wait_for(HUB_SERVICE, lambda p: self._accept_hub(p, expected), 30.0)
            if peer is not None:
                self.hub_url = peer.url
                log.info("found the hub by mDNS at %s (%s)", self.hub_url, peer.instance)
                return
            log.warning("no hub found by mDNS yet (expecting key fingerprint %s); still looking", expected)

    def _accept_hub(self, peer: Peer, expected: str | None) -> bool:
        # The TXT fingerprint only steers the choice; the signature on every
        # answer is what proves it is the hub.
        return expected is None or peer.fingerprint in ("", expected)

    # -- enrollment ---------------------------------------------------------------------------

    def _enrollment_code(self) -> EnrollmentCode | None:
        text = self.config.hub.enrollment_code
        if not text and self.config.hub.enrollment_code_file:
            path = Path(self.config.hub.enrollment_code_file)
            if path.exists():
                text = path.read_text(encoding="utf-8").strip()
        if not text:
            return None
        try:
            return EnrollmentCode.parse(text)
        except ValueError as exc:
            raise SystemExit(f"{self.config.path}: hub.enrollment_code: {exc}") from None

    async def enroll(self) -> str:
        """Enroll (or ask again how the enrollment stands); returns the status."""
        code = self._enrollment_code()
        token_id = self.state.get("token_id") or (code.token_id if code else "")
        proof = self.state.get("proof") or (enrollment_proof(code.secret, self.identity.public_key_b64) if code else "")
        if not token_id:
            raise HubRefused(0, "no_code", "not enrolled and no enrollment code configured ([hub] enrollment_code)")
        body = {
            "node_id": self.identity.id, "public_key": self.identity.public_key_b64, "token_id": token_id,
            "proof": proof, "name": self.config.node.name, "roles": list(self.config.node.roles),
            "version": __version__, "port": self.port_of(),
        }
        answer = await self.request("POST", "/api/v1/enroll", body, pin=code)
        status = str(answer["status"])
        await self._save(status=status, site=str(answer.get("site", "")), hub_url=self.hub_url,
                         token_id=token_id, proof=proof)
        self.heartbeat_interval_s = float(answer.get("heartbeat_interval_s", self.heartbeat_interval_s))
        self._forget_code_file()
        return status

    def _forget_code_file(self) -> None:
        path = self.config.hub.enrollment_code_file
        if path and Path(path).exists():
            with contextlib.suppress(OSError):
                Path(path).unlink()
                log.info("enrollment code file %s deleted: it is single-use", path)

    async def run_enrollment(self) -> None:
        """Find the hub and enroll, retrying until approved."""
        delay = 1.0
        while not self.approved.is_set():
            try:
                await self.find_hub()
                status = await self.enroll()
            except HubUnavailable as exc:
                log.warning("hub unavailable during enrollment: %s", exc)
                if exc.retry_after:  # the hub said when (e.g. too many failed attempts from this address)
                    delay = max(delay, min(exc.retry_after, 300.0))
                if not self.config.hub.url and not self.hub_key:
                    self.hub_url = ""  # maybe a stale address: look again
            except HubRefused as exc:
                log.error("enrollment refused: %s", exc.message or exc)
                delay = 30.0
            else:
                if status == "approved":
                    log.info("enrolled and approved by the hub (site %s)", self.site)
                    self.approved.set()
                    return
                log.info("enrollment %s: waiting for an administrator to approve node %s", status, self.identity.id)
                delay = 2.0
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 30.0)

    # -- reporting --------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """What a heartbeat says about this node."""
        h: dict[str, Any] = {"version": __version__, "uptime_s": round(time.monotonic() - self._started, 1),
                             "clock_offset_s": self.clock_offset_s, "outbox_pending": self.outbox_pending()}
        with contextlib.suppress(OSError):
            h["load1"] = round(os.getloadavg()[0], 2)
        with contextlib.suppress(OSError, ValueError):
            meminfo = Path("/proc/meminfo").read_text()
            for line in meminfo.splitlines():
                if line.startswith("MemAvailable:"):
                    h["mem_available_mb"] = int(line.split()[1]) // 1024
        with contextlib.suppress(OSError):
            h["disk_free_mb"] = shutil.disk_usage(self.config.state_dir).free // (1024 * 1024)
        with contextlib.suppress(OSError, ValueError):
            h["temperature_c"] = int(Path("/sys/class/thermal/thermal_zone0/temp").read_text().strip()) / 1000
        try:
            roles = self.roles_health()
            if len(json.dumps(roles, default=str)) < 48_000:  # the hub keeps at most 64 KB of health
                h["roles"] = roles
        except Exception:  # a role's health must never stop the heartbeat
            log.exception("role health failed")
        return h

    async def heartbeat_once(self) -> None:
        answer = await self.request("POST", "/api/v1/heartbeat", {"health": self.health(), "port": self.port_of()})
        self.heartbeat_interval_s = float(answer.get("heartbeat_interval_s", self.heartbeat_interval_s))

    async def run_heartbeats(self) -> None:
        await self.approved.wait()
        while True:
            try:
                await self.heartbeat_once()
            except HubUnavailable as exc:
                log.info("heartbeat not delivered: %s", exc)
            except HubRefused as exc:
                log.error("heartbeat refused: %s", exc)
                if exc.status == 403 and exc.code in ("node_revoked", "node_rejected"):
                    await self._save(status=exc.code.removeprefix("node_"))
                    self.approved.clear()
                    log.error("this node was revoked at the hub; it stops reporting")
                    return
            await asyncio.sleep(self.heartbeat_interval_s)

    async def send_batch(self, messages: list[dict[str, Any]]) -> Delivery:
        """The outbox's sender."""
        try:
            answer = await self.request("POST", "/api/v1/ingest", {"messages": messages})
        except HubUnavailable as exc:
            raise RetryLater(str(exc), exc.retry_after) from None
        except HubRefused as exc:
            if exc.status in (400, 413, 415):
                # The batch as a whole is unusable: refuse each one so it is not resent forever.
                raise RetryLater(f"hub refused the batch: {exc}") from None
            raise RetryLater(str(exc)) from None
        return Delivery(rejected={r["msg_id"]: r["reason"] for r in answer.get("rejected", [])})

    # -- WebSocket ------------------------------------------------------------------------------

    async def run_websocket(self) -> None:
        """Keep one WebSocket to the hub for commands and the roster; reconnect with backoff."""
        delay = 1.0
        while True:
            await self.approved.wait()
            try:
                await self._websocket_once()
                delay = 1.0
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, HubUnavailable) as exc:
                log.info("hub WebSocket: %s", exc)
            except Exception:
                log.exception("hub WebSocket failed")
            self.connected.clear()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 30.0)

    async def _websocket_once(self) -> None:
        if not self.hub_url or not self.hub_key:
            raise HubUnavailable("hub not known")
        session = await self._http()
        path = "/api/v1/ws"
        headers = self.identity.sign_request("GET", path, b"", time.time())
        ws_url = self.hub_url.replace("http", "ws", 1) + path
        async with session.ws_connect(ws_url, headers=headers, heartbeat=20.0, timeout=aiohttp.ClientWSTimeout(ws_close=5.0)) as ws:
            log.info("hub WebSocket connected")
            self.connected.set()
            for callback in self.on_hub_back:
                callback()
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    message = open_sealed(self.hub_key, msg.data)
                except SignatureError as exc:
                    log.error("dropping a hub message: %s", exc)
                    continue
                await self._handle(ws, message)

    async def _handle(self, ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "roster":
            peers = message.get("peers")
            if isinstance(peers, list):
                self.roster = peers
                await self._save(roster=json.dumps(peers))
                for listener in self.roster_listeners:
                    listener(peers)
        elif kind == "hello":
            hub_time = message.get("hub_time")
            if isinstance(hub_time, (int, float)):
                self.clock_offset_s = float(hub_time) - time.time()
        elif kind == "command":
            name, cmd_id = str(message.get("name"))[:64], str(message.get("id"))[:64]
            reply: dict[str, Any] = {"type": "reply", "id": cmd_id}
            ts = message.get("ts")
            if not isinstance(ts, (int, float)) or not math.isfinite(ts) \
                    or abs(float(ts) - time.time() - (self.clock_offset_s or 0)) > COMMAND_TTL_S:
                log.error("refusing a stale hub command %s", name)
                return
            refused = None
            if message.get("to") != self.identity.id:
                refused = ("command_wrong_target", f"команда «{name}» адресована іншому вузлу",
                           f"command {name!r} is addressed to another node")
            elif cmd_id in self._seen_commands:
                refused = ("command_replayed", f"команду «{name}» вже виконано (повтор)",
                           f"command {name!r} was already run (a replay)")
            if refused is not None:
                log.error("refusing hub command %s (%s): %s", name, cmd_id, refused[2])
                await self._report_refused_command(name, *refused)
                return
            self._seen_commands[cmd_id] = time.monotonic()
            for old_id, seen in list(self._seen_commands.items()):
                if time.monotonic() - seen > 3 * COMMAND_TTL_S:
                    del self._seen_commands[old_id]
            handler = self.command_handlers.get(name)
            if handler is None:
                reply.update(ok=False, error=f"unknown command {message.get('name')!r}")
            else:
                try:
                    reply.update(ok=True, result=await handler(message.get("args") or {}))
                except Exception as exc:
                    reply.update(ok=False, error=str(exc))
            await ws.send_str(seal(self.identity, reply))

    async def _report_refused_command(self, name: str, code: str, uk: str, en: str) -> None:
        """A command refused by its would-be target is a security event: an alert through the outbox."""
        payload = {"key": f"security.{code}", "state": "raised", "severity": "critical",
                   "message": f"Вузол відхилив команду від хаба: {uk}. Можливе перехоплення зв'язку.",
                   "message_en": f"The node refused a hub command: {en}. The link may be intercepted."}
        await self.store.write(lambda conn: outbox.enqueue(conn, "alert", payload, outbox.Priority.CRITICAL))
        self.on_enqueued()

    async def _ping(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"pong": True, "node_id": self.identity.id, "echo": args.get("echo")}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the HTTP-date form is rare from our hub: ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _refusal(status: int, answer: Any) -> HubRefused:
    err = answer.get("error", {}) if isinstance(answer, dict) else {}
    if not isinstance(err, dict):
        err = {}
    return HubRefused(status, str(err.get("code", "")), str(err.get("message", "")))
