"""Node and hub identity: an Ed25519 key pair, the id derived from it, signing.

The key is made on first start in the state directory (mode 0600) and never
leaves it. The node id is derived from the public key, so an id cannot be
claimed without the key.

Every node→hub HTTP request is signed over a canonical text of method, path
(with query), time, nonce, body hash and signer id (see
:func:`canonical_request`). The hub signs its answer over the request's nonce,
so a recorded answer cannot be replayed to another request. Messages the hub
pushes over the WebSocket are signed envelopes (:func:`seal` / :func:`open_sealed`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

H_SIGNER = "X-Hromada-Node"
H_TIME = "X-Hromada-Time"
H_NONCE = "X-Hromada-Nonce"
H_SIG = "X-Hromada-Signature"
H_HUB_SIG = "X-Hromada-Hub-Signature"
H_HUB_TIME = "X-Hromada-Hub-Time"

SIG_VERSION = "HROMADA-SIG-1"


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def id_from_public_key(raw_public_key: bytes, prefix: str = "n") -> str:
    """A short, stable, lowercase id: prefix + 20 base32 characters of the key's SHA-256."""
    digest = hashlib.sha256(raw_public_key).digest()
    return prefix + base64.b32encode(digest).decode("ascii").lower()[:20]


def fingerprint(raw_public_key: bytes) -> str:
    """What a person compares: 16 hex characters of the key's SHA-256."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


class SignatureError(Exception):
    """A signature that does not hold; ``reason`` is safe to send back."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class Identity:
    """This process's key pair and the id derived from it."""

    private_key: Ed25519PrivateKey
    public_key: bytes
    id: str

    @classmethod
    def load_or_create(cls, state_dir: Path, filename: str = "node.key", prefix: str = "n") -> "Identity":
        """Load the key from ``state_dir``, making it (mode 0600) when it is missing."""
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = state_dir / filename
        if path.exists():
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} does not hold an Ed25519 key")
        else:
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, pem)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            _fsync_dir(state_dir)
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(private_key=key, public_key=raw, id=id_from_public_key(raw, prefix))

    @property
    def public_key_b64(self) -> str:
        return b64e(self.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> str:
        return b64e(self.private_key.sign(data))

    def sign_request(self, method: str, path_qs: str, body: bytes, now: float) -> dict[str, str]:
        """The headers that sign one request."""
        nonce = secrets.token_urlsafe(16)
        ts = f"{now:.3f}"
        text = canonical_request(method, path_qs, ts, nonce, body, self.id)
        return {H_SIGNER: self.id, H_TIME: ts, H_NONCE: nonce, H_SIG: self.sign(text)}

    def sign_response(self, nonce: str, status: int, body: bytes, now: float) -> dict[str, str]:
        ts = f"{now:.3f}"
        return {H_HUB_TIME: ts, H_HUB_SIG: self.sign(canonical_response(nonce, status, ts, body))}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    try:
        raw = b64d(text)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"malformed public key: {exc}", 400) from None


def verify(public_key_b64: str, data: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is the key's signature over ``data``."""
    try:
        public_key_from_b64(public_key_b64).verify(b64d(signature_b64), data)
    except (InvalidSignature, ValueError, SignatureError):
        return False
    return True


def canonical_request(method: str, path_qs: str, ts: str, nonce: str, body: bytes, signer: str) -> bytes:
    """The exact bytes a request signature covers."""
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([SIG_VERSION, method.upper(), path_qs, ts, nonce, body_hash, signer]).encode("utf-8")


def canonical_response(nonce: str, status: int, ts: str, body: bytes) -> bytes:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([SIG_VERSION + "-RESPONSE", nonce, str(status), ts, body_hash]).encode("utf-8")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a valid request signature established."""

    signer: str
    timestamp: float
    nonce: str


def check_request(
    headers: Any,
    method: str,
    path_qs: str,
    body: bytes,
    key_of: Callable[[str], str | None],
    now: float,
    max_skew_s: float,
) -> SignedRequest:
    """Check a request's signature; raise SignatureError with a reason otherwise.

    ``key_of`` maps a signer id to its base64 public key (None: unknown).
    Replay of the nonce is the caller's check, because it needs storage.
    """
    signer = headers.get(H_SIGNER)
    ts = headers.get(H_TIME)
    nonce = headers.get(H_NONCE)
    sig = headers.get(H_SIG)
    if not (signer and ts and nonce and sig):
        raise SignatureError("unsigned request: X-Hromada-Node, -Time, -Nonce and -Signature are required")
    if len(nonce) < 16 or len(nonce) > 64:
        raise SignatureError("nonce must be 16 to 64 characters")
    try:
        timestamp = float(ts)
    except ValueError:
        raise SignatureError("X-Hromada-Time is not a number") from None
    if abs(now - timestamp) > max_skew_s:
        raise SignatureError(f"stale signature: clock differs from the hub's by {now - timestamp:+.0f} s")
    key = key_of(signer)
    if key is None:
        raise SignatureError("unknown signer", 403)
    if not verify(key, canonical_request(method, path_qs, ts, nonce, body, signer), sig):
        raise SignatureError("bad signature")
    return SignedRequest(signer=signer, timestamp=timestamp, nonce=nonce)


def check_response(hub_key_b64: str, nonce: str, status: int, headers: Any, body: bytes) -> float:
    """Check the hub's signature on an answer; return the hub's time."""
    ts = headers.get(H_HUB_TIME)
    sig = headers.get(H_HUB_SIG)
    if not ts or not sig:
        raise SignatureError("the hub's answer is not signed")
    if not verify(hub_key_b64, canonical_response(nonce, status, ts, body), sig):
        raise SignatureError("the hub's answer has a bad signature (not the pinned hub?)")
    try:
        return float(ts)
    except ValueError:
        raise SignatureError("the hub's time is not a number") from None


def seal(identity: Identity, message: dict[str, Any]) -> str:
    """A signed envelope for a message pushed over a WebSocket."""
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return json.dumps({"body": body, "sig": identity.sign(body.encode("utf-8"))}, ensure_ascii=False)


def open_sealed(public_key_b64: str, envelope: str) -> dict[str, Any]:
    """The message inside a sealed envelope, or SignatureError."""
    try:
        outer = json.loads(envelope)
        body, sig = outer["body"], outer["sig"]
        if not isinstance(body, str) or not isinstance(sig, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise SignatureError("malformed envelope", 400) from None
    if not verify(public_key_b64, body.encode("utf-8"), sig):
        raise SignatureError("bad envelope signature")
    message = json.loads(body)
    if not isinstance(message, dict):
        raise SignatureError("envelope body is not an object", 400)
    return message
