"""Node-to-node WebSockets (console → hall, kiosk → queue, screen → service).

Trust comes from the roster the hub issued (``HubClient.roster``: the approved
nodes of the site with their keys), cached for hub outages. The LAN carries
plain HTTP, so every message is protected on its own:

* the client opens the socket with a signed GET (the hub's request form);
  the server checks it against the roster and the roles it admits;
* the server's first message is a ``welcome`` sealed with its Ed25519 key,
  naming itself and echoing the handshake nonce; the client checks that key
  against the roster too (mDNS only said *where*);
* both sides put an ephemeral X25519 key into the handshake (the client's
  in the signed query string, the server's in the sealed welcome) and derive
  one HMAC key per direction, so every later message is authenticated for
  microseconds instead of an Ed25519 signature each (120 consoles pressing
  at once must not wait for 240 signatures);
* every message carries the handshake nonce and a counter that must grow,
  so a message can be neither forged, nor replayed on another connection,
  nor replayed on this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import WSMsgType, web

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from edge.identity import H_NONCE, Identity, SignatureError, b64d, b64e, check_request, open_sealed, seal
from edge.web import error

log = logging.getLogger("hromada.peers")

HANDSHAKE_SKEW_S = 30.0

KeyLookup = Callable[[str], "str | None"]


def roster_lookup(roster: Callable[[], list[dict[str, Any]]], roles: set[str]) -> KeyLookup:
    """A key lookup over the current roster, admitting only nodes with one of ``roles``."""
    def key_of(node_id: str) -> str | None:
        for peer in roster():
            if peer.get("node_id") == node_id and roles & set(peer.get("roles", [])):
                return str(peer["public_key"])
        return None
    return key_of


def _ephemeral() -> tuple[X25519PrivateKey, str]:
    key = X25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, b64e(raw)


def _session_keys(own: X25519PrivateKey, peer_b64: str, nonce: str) -> tuple[bytes, bytes]:
    """(client→server key, server→client key) from the X25519 exchange, bound to the handshake nonce."""
    try:
        shared = own.exchange(X25519PublicKey.from_public_bytes(b64d(peer_b64)))
    except (ValueError, TypeError):
        raise SignatureError("malformed ephemeral key", 400) from None
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=nonce.encode(), info=b"hromada-peer-1").derive(shared)
    return okm[:32], okm[32:]


def mac_seal(key: bytes, message: dict[str, Any]) -> str:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return json.dumps({"body": body, "mac": hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()},
                      ensure_ascii=False)


def mac_open(key: bytes, data: str, nonce: str, last: int) -> dict[str, Any]:
    """A MAC-sealed peer message, checked for this connection and a growing counter."""
    try:
        outer = json.loads(data)
        body, mac = outer["body"], outer["mac"]
        if not isinstance(body, str) or not isinstance(mac, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise SignatureError("malformed message", 400) from None
    if not hmac.compare_digest(hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest(), mac):
        raise SignatureError("bad message authentication code")
    try:
        message = json.loads(body)  # authentic, but perhaps not JSON: dropped, the socket stays open
    except ValueError:
        raise SignatureError("message body is not JSON", 400) from None
    if not isinstance(message, dict):
        raise SignatureError("message is not an object", 400)
    return _check_order(message, nonce, last)


def _check_order(message: dict[str, Any], nonce: str, last: int) -> dict[str, Any]:
    if message.get("conn") != nonce:
        raise SignatureError("message belongs to another connection")
    n = message.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n <= last:
        raise SignatureError("replayed or reordered message")
    return message


class NonceCache:
    """Handshake nonces seen in the last few minutes (a replayed handshake is refused)."""

    def __init__(self, keep_s: float = 2 * HANDSHAKE_SKEW_S) -> None:
        self.keep_s = keep_s
        self._seen: dict[tuple[str, str], float] = {}

    def remember(self, node_id: str, nonce: str, now: float) -> bool:
        cutoff = now - self.keep_s
        if len(self._seen) > 1000:
            self._seen = {k: t for k, t in self._seen.items() if t > cutoff}
        if (node_id, nonce) in self._seen:
            return False
        self._seen[(node_id, nonce)] = now
        return True


@dataclass
class PeerConnection:
    """One authenticated peer socket, server side."""

    node_id: str
    key: str
    nonce: str
    ws: web.WebSocketResponse
    identity: Identity
    send_key: bytes = b""
    recv_key: bytes = b""
    _sent: int = 0
    _received: int = 0
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            self._sent += 1
            await self.ws.send_str(mac_seal(self.send_key, {**message, "conn": self.nonce, "n": self._sent,
                                                            "ts": time.time()}))

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """The peer's messages, each verified; a bad one is logged and dropped."""
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                message = mac_open(self.recv_key, msg.data, self.nonce, self._received)
            except SignatureError as exc:
                log.warning("dropping a message from %s: %s", self.node_id, exc.reason)
                with contextlib.suppress(Exception):
                    await self.send({"type": "error", "code": "bad_message", "message": exc.reason})
                continue
            self._received = int(message["n"])
            yield message


def open_peer_message(key: str, data: str, nonce: str, last: int) -> dict[str, Any]:
    """A message sealed with an Ed25519 key (the welcome), checked for this connection."""
    return _check_order(open_sealed(key, data), nonce, last)


async def accept_peer(request: web.Request, identity: Identity, key_of: KeyLookup, nonces: NonceCache,
                      max_msg_size: int = 256 * 1024) -> PeerConnection:
    """Check a peer's signed handshake and open the socket; raises 401/403 otherwise."""
    try:
        signed = check_request(request.headers, "GET", request.path_qs, b"", key_of, time.time(), HANDSHAKE_SKEW_S)
    except SignatureError as exc:
        raise error(exc.status, "not_in_roster" if exc.status == 403 else "signature", exc.reason) from None
    if not nonces.remember(signed.signer, signed.nonce, time.time()):
        raise error(401, "replay", "handshake replayed")
    key = key_of(signed.signer)
    assert key is not None
    own, own_pub = _ephemeral()
    c2s, s2c = _session_keys(own, request.query.get("eph", ""), signed.nonce)
    ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=max_msg_size)
    await ws.prepare(request)
    conn = PeerConnection(signed.signer, key, signed.nonce, ws, identity, send_key=s2c, recv_key=c2s)
    conn._sent = 1
    await ws.send_str(seal(identity, {"type": "welcome", "node_id": identity.id, "eph": own_pub,
                                      "conn": signed.nonce, "n": 1, "ts": time.time()}))
    return conn


class PeerClient:
    """A node's socket to a peer service, reconnecting forever with backoff.

    ``url_of`` finds the peer (configuration or mDNS) and returns its base URL;
    ``key_of`` says which keys may answer (the roster, with the peer's role).
    """

    def __init__(self, identity: Identity, path: str, url_of: Callable[[], Awaitable[str]], key_of: KeyLookup,
                 on_message: Callable[[dict[str, Any]], Awaitable[None]],
                 on_state: Callable[[bool], None] | None = None) -> None:
        self.identity = identity
        self.path = path
        self.url_of = url_of
        self.key_of = key_of
        self.on_message = on_message
        self.on_state = on_state or (lambda up: None)
        self.connected = asyncio.Event()
        self.peer_id: str | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._nonce = ""
        self._sent = 0
        self._send_key = b""
        self._lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        """Send a sealed message; raises ConnectionError when not connected."""
        async with self._lock:
            ws = self._ws
            if ws is None or ws.closed or not self.connected.is_set():
                raise ConnectionError("not connected")
            self._sent += 1
            await ws.send_str(mac_seal(self._send_key, {**message, "conn": self._nonce, "n": self._sent,
                                                        "ts": time.time()}))

    async def run(self) -> None:
        delay = 0.5
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await self._once(session)
                    delay = 0.5
                except asyncio.CancelledError:
                    raise
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError, SignatureError, ValueError) as exc:
                    log.info("peer %s: %s", self.path, exc)
                except Exception:
                    log.exception("peer %s failed", self.path)
                finally:
                    if self.connected.is_set():
                        self.connected.clear()
                        self.on_state(False)
                    self._ws = None
                await asyncio.sleep(delay * random.uniform(0.7, 1.0))
                delay = min(delay * 2, 10.0)

    async def _once(self, session: aiohttp.ClientSession) -> None:
        base = await self.url_of()
        own, own_pub = _ephemeral()
        path = f"{self.path}?eph={own_pub}"
        headers = self.identity.sign_request("GET", path, b"", time.time())
        nonce = headers[H_NONCE]
        async with session.ws_connect(base.replace("http", "ws", 1) + path, headers=headers,
                                      heartbeat=10.0, timeout=aiohttp.ClientWSTimeout(ws_close=3.0)) as ws:
            first = await ws.receive(timeout=10.0)
            if first.type != WSMsgType.TEXT:
                raise ConnectionError(f"peer closed during handshake ({first.type.name})")
            claimed = json.loads(json.loads(first.data)["body"]).get("node_id", "")
            key = self.key_of(str(claimed))
            if key is None:
                raise SignatureError(f"peer {claimed!r} is not in the roster with the expected role")
            welcome = open_peer_message(key, first.data, nonce, 0)
            if welcome.get("type") != "welcome":
                raise SignatureError("peer did not welcome us")
            received = int(welcome["n"])
            c2s, s2c = _session_keys(own, str(welcome.get("eph", "")), nonce)
            self._send_key = c2s
            self._ws, self._nonce, self._sent, self.peer_id = ws, nonce, 0, str(claimed)
            self.connected.set()
            self.on_state(True)
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    message = mac_open(s2c, msg.data, nonce, received)
                except SignatureError as exc:
                    log.warning("dropping a message from peer %s: %s", claimed, exc.reason)
                    continue
                received = int(message["n"])
                await self.on_message(message)
