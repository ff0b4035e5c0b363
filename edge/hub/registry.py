"""The hub's registry of nodes: enrollment tokens, enrollment, decisions.

Plain functions over a SQLite connection, so the running hub and the admin
commands (``hromada hub token|pending|approve|reject|revoke``, run beside it
on the same file) share one implementation.

An enrollment code reads ``HRM1-<token id>-<secret>-<hub fingerprint>``. The
node never sends the secret: it proves it knows it with an HMAC over its own
public key, so a code overheard on the LAN is useless for another key. The
hub fingerprint lets the node refuse an impostor hub found by mDNS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from edge.identity import b64d, id_from_public_key
from edge.timeutil import iso_utc

CODE_PREFIX = "HRM1"
_CODE_RE = re.compile(r"^HRM1-([a-z2-7]{8})-([a-z2-7]{26})-([0-9a-f]{16})$")


class NodeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class EnrollmentError(Exception):
    """Enrollment refused; ``reason`` is safe to send to the node."""

    def __init__(self, reason: str, status: int = 403, alert: tuple[str, str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.alert = alert  # (site, Ukrainian, English) when the attempt is a security event for the technicians


def token_roles(text: str) -> tuple[str, ...]:
    """The roles an enrollment code is for, as stored (``hall,hall-display``), in a fixed order."""
    return tuple(sorted({r.strip() for r in text.split(",") if r.strip()}))


def check_token_roles(text: str) -> str | None:
    """Why ``text`` cannot be the roles of a code (each must be a known node role), or None."""
    from edge.roles import NODE_ROLES

    roles = token_roles(text)
    if not roles:
        return "name the roles of the node, e.g. hall or queue,queue-display"
    unknown = [r for r in roles if r not in NODE_ROLES]
    if unknown:
        return f"unknown role {unknown[0]!r}; known roles: {', '.join(NODE_ROLES)}"
    return None


@dataclass(frozen=True, slots=True)
class EnrollmentCode:
    token_id: str
    secret: str
    hub_fingerprint: str

    def __str__(self) -> str:
        return f"{CODE_PREFIX}-{self.token_id}-{self.secret}-{self.hub_fingerprint}"

    @classmethod
    def parse(cls, text: str) -> "EnrollmentCode":
        text = text.strip()
        m = _CODE_RE.match(CODE_PREFIX + text[len(CODE_PREFIX):].lower()) if text[:5].upper() == "HRM1-" else None
        if not m:
            raise ValueError("an enrollment code looks like HRM1-xxxxxxxx-<26 letters/digits>-<16 hex>")
        return cls(m.group(1), m.group(2), m.group(3))


def _b32(nbytes: int, length: int) -> str:
    return base64.b32encode(secrets.token_bytes(nbytes)).decode("ascii").lower().rstrip("=")[:length]


def enrollment_proof(secret: str, public_key_b64: str) -> str:
    """What a node sends instead of the secret: HMAC-SHA256(secret, its public key)."""
    return hmac.new(secret.encode("ascii"), public_key_b64.encode("ascii"), hashlib.sha256).hexdigest()


def make_token(
    conn: sqlite3.Connection,
    hub_fingerprint: str,
    site: str,
    role: str,
    ttl_s: float,
    pre_approved: bool = False,
    note: str = "",
    actor: str = "cli",
) -> tuple[EnrollmentCode, float]:
    """Make a single-use token for a node of exactly these roles; return its code and its expiry (Unix time)."""
    if (why := check_token_roles(role)) is not None:
        raise EnrollmentError(why, 400)
    role = ",".join(token_roles(role))
    code = EnrollmentCode(_b32(5, 8), _b32(17, 26), hub_fingerprint)
    expires = time.time() + ttl_s
    conn.execute(
        "INSERT INTO tokens (token_id, secret, site, role, pre_approved, note, created_at, expires_ts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (code.token_id, code.secret, site, role, int(pre_approved), note, iso_utc(), expires),
    )
    log_admin(conn, actor, "token", code.token_id, f"site={site} role={role} pre_approved={pre_approved}")
    return code, expires


def log_admin(conn: sqlite3.Connection, actor: str, action: str, target: str, detail: str = "") -> None:
    conn.execute(
        "INSERT INTO admin_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (iso_utc(), actor, action, target, detail),
    )


@dataclass(frozen=True, slots=True)
class EnrollRequest:
    """A node's enrollment request, validated."""

    node_id: str
    public_key: str
    token_id: str
    proof: str
    name: str
    roles: tuple[str, ...]
    version: str
    port: int

    @classmethod
    def from_json(cls, data: Any) -> "EnrollRequest":
        if not isinstance(data, dict):
            raise EnrollmentError("body must be a JSON object", 400)
        try:
            req = cls(
                node_id=_str(data, "node_id", 32),
                public_key=_str(data, "public_key", 64),
                token_id=_str(data, "token_id", 16),
                proof=_str(data, "proof", 64),
                name=_str(data, "name", 63),
                roles=tuple(_str({"r": r}, "r", 32) for r in _list(data, "roles")),
                version=_str(data, "version", 32),
                port=int(data.get("port", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EnrollmentError(f"bad enrollment request: {exc}", 400) from None
        try:
            raw = b64d(req.public_key)
        except ValueError:
            raise EnrollmentError("public_key is not base64url", 400) from None
        if len(raw) != 32 or id_from_public_key(raw) != req.node_id:
            raise EnrollmentError("node_id does not match public_key", 400)
        return req


def _str(data: dict[str, Any], key: str, max_len: int) -> str:
    value = data[key]
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ValueError(f"{key} must be a non-empty string of at most {max_len} characters")
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data[key]
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def enroll(conn: sqlite3.Connection, req: EnrollRequest, address: str) -> NodeStatus:
    """Take an enrollment request (inside a transaction); return the node's status.

    A node that enrolls again with the same key (it restarted before it saw
    the answer) gets its current status back; the token is not needed again.
    """
    existing = conn.execute("SELECT status FROM nodes WHERE node_id = ?", (req.node_id,)).fetchone()
    if existing is not None:
        status = NodeStatus(existing[0])
        if status in (NodeStatus.REVOKED, NodeStatus.REJECTED):
            raise EnrollmentError(f"this node was {status.value} by an administrator")
        return status
    token = conn.execute(
        "SELECT secret, site, role, pre_approved, expires_ts, used_at FROM tokens WHERE token_id = ?",
        (req.token_id,),
    ).fetchone()
    if token is None:
        raise EnrollmentError("unknown enrollment token")
    secret, site, role, pre_approved, expires_ts, used_at = token
    if not hmac.compare_digest(enrollment_proof(secret, req.public_key), req.proof):
        raise EnrollmentError("wrong enrollment code")
    if used_at is not None:
        raise EnrollmentError("enrollment token already used")
    if time.time() > expires_ts:
        raise EnrollmentError("enrollment token expired")
    asked = ",".join(token_roles(",".join(req.roles)))
    if asked != ",".join(token_roles(role)):
        raise EnrollmentError(
            f"the code is for roles {role!r}, the node asks for {asked!r}: a node may not add roles",
            alert=(site, f"Вузол «{req.name}» на майданчику «{site}» просив ролі {asked}, а код видано для {role}; відмовлено.",
                   f"Node '{req.name}' at site '{site}' asked for roles {asked} with a code for {role}; refused."))
    same_name = conn.execute(
        "SELECT node_id FROM nodes WHERE site = ? AND name = ? AND status IN ('approved', 'pending')",
        (site, req.name)).fetchone()
    if same_name is not None:
        raise EnrollmentError(
            f"a node named {req.name!r} is already enrolled at site {site!r}", 409,
            alert=(site, f"Другий вузол назвався «{req.name}» на майданчику «{site}»; відмовлено. Перевірте, чи це не підміна.",
                   f"A second node called itself '{req.name}' at site '{site}'; refused. Check it is not an impostor."))
    status = NodeStatus.APPROVED if pre_approved else NodeStatus.PENDING
    now = iso_utc()
    conn.execute("UPDATE tokens SET used_at = ?, used_by = ? WHERE token_id = ?", (now, req.node_id, req.token_id))
    conn.execute(
        "INSERT INTO nodes (node_id, public_key, name, site, roles, version, status, token_id, enrolled_at,"
        " decided_at, decided_by, address, port) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            req.node_id, req.public_key, req.name, site, ",".join(req.roles), req.version, status.value,
            req.token_id, now, now if pre_approved else None, "token" if pre_approved else None,
            address, req.port,
        ),
    )
    conn.execute("DELETE FROM discovered WHERE node_id = ?", (req.node_id,))
    return status


_ALLOWED = {
    "approve": ({NodeStatus.PENDING}, NodeStatus.APPROVED),
    "reject": ({NodeStatus.PENDING}, NodeStatus.REJECTED),
    "revoke": ({NodeStatus.APPROVED, NodeStatus.PENDING}, NodeStatus.REVOKED),
}


def decide(conn: sqlite3.Connection, node_id: str, action: str, actor: str) -> NodeStatus:
    """Approve, reject or revoke a node; refuse a decision that does not fit its state."""
    allowed_from, to = _ALLOWED[action]
    row = conn.execute("SELECT status FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
    if row is None:
        raise EnrollmentError(f"no node {node_id}", 404)
    current = NodeStatus(row[0])
    if current not in allowed_from:
        raise EnrollmentError(f"cannot {action} a node that is {current.value}", 409)
    if to is NodeStatus.APPROVED:
        twin = conn.execute(
            "SELECT n2.node_id FROM nodes n1 JOIN nodes n2 ON n2.site = n1.site AND n2.name = n1.name"
            " AND n2.node_id != n1.node_id WHERE n1.node_id = ? AND n2.status = 'approved'", (node_id,)).fetchone()
        if twin is not None:
            raise EnrollmentError(f"another approved node at this site has the same name ({twin[0]}):"
                                  " revoke it or rename this one first", 409)
    conn.execute(
        "UPDATE nodes SET status = ?, decided_at = ?, decided_by = ?, online = CASE WHEN ? = 'approved'"
        " THEN online ELSE 0 END WHERE node_id = ?",
        (to.value, iso_utc(), actor, to.value, node_id),
    )
    log_admin(conn, actor, action, node_id)
    return to


def node_key(conn: sqlite3.Connection, node_id: str) -> tuple[str, NodeStatus] | None:
    row = conn.execute("SELECT public_key, status FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
    return None if row is None else (row[0], NodeStatus(row[1]))


def list_nodes(conn: sqlite3.Connection, status: str | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT node_id, name, site, roles, version, status, online, last_seen, address, port, health,"
        " clock_offset_s, enrolled_at FROM nodes"
    )
    args: tuple[Any, ...] = ()
    if status:
        sql += " WHERE status = ?"
        args = (status,)
    rows = conn.execute(sql + " ORDER BY site, name", args).fetchall()
    keys = ["node_id", "name", "site", "roles", "version", "status", "online", "last_seen", "address", "port",
            "health", "clock_offset_s", "enrolled_at"]
    out = []
    for r in rows:
        d = dict(zip(keys, r))
        d["roles"] = [x for x in d["roles"].split(",") if x]
        d["online"] = bool(d["online"])
        d["health"] = json.loads(d["health"]) if d["health"] else None
        out.append(d)
    return out


def list_discovered(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Nodes seen by mDNS that have not enrolled (not trusted: mDNS proves nothing)."""
    rows = conn.execute(
        "SELECT node_id, instance, roles, version, addresses, port, seen_at FROM discovered"
        " WHERE node_id NOT IN (SELECT node_id FROM nodes) ORDER BY instance"
    ).fetchall()
    keys = ["node_id", "instance", "roles", "version", "addresses", "port", "seen_at"]
    return [dict(zip(keys, r)) for r in rows]


def roster(conn: sqlite3.Connection, site: str) -> list[dict[str, Any]]:
    """The approved nodes of a site with their keys: whom a node of that site may trust."""
    rows = conn.execute(
        "SELECT node_id, name, roles, public_key FROM nodes WHERE status = 'approved' AND site = ? ORDER BY node_id",
        (site,),
    ).fetchall()
    return [{"node_id": r[0], "name": r[1], "roles": r[2].split(","), "public_key": r[3]} for r in rows]
