"""Technicians' accounts at the hub: scrypt passwords, TOTP, sessions, roles.

No account exists until an administrator makes one with ``hromada hub user
add``, which prints a one-time password and the TOTP secret (as text, an
``otpauth://`` link and a QR code). The first login with them must set a new
password. Every login needs the password *and* a TOTP code (the community
programmes require a second factor for administrative access); a code is
accepted once. Failed logins lock the account for a growing time.

Sessions are random 32-byte ids, stored hashed; each has its own CSRF token
that every state-changing request must echo in ``X-CSRF-Token``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import struct
import urllib.parse
from dataclasses import dataclass
from enum import StrEnum

from edge.timeutil import iso_utc

MIGRATIONS = [
    """
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('admin', 'technician', 'viewer', 'police')),
        password_hash TEXT NOT NULL,
        must_change_password INTEGER NOT NULL DEFAULT 1,
        totp_secret TEXT NOT NULL,
        totp_last_step INTEGER NOT NULL DEFAULT 0,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users (username),
        csrf TEXT NOT NULL,
        created_ts REAL NOT NULL,
        expires_ts REAL NOT NULL
    );
    """
]


class Role(StrEnum):
    ADMIN = "admin"
    TECHNICIAN = "technician"
    VIEWER = "viewer"
    POLICE = "police"  # the police liaison: cameras only


# What each role may do; the dashboard API checks these, the pages only hide.
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"view", "cameras", "act", "enroll", "users"}),
    Role.TECHNICIAN: frozenset({"view", "cameras", "act"}),
    Role.VIEWER: frozenset({"view"}),
    Role.POLICE: frozenset({"cameras"}),
}

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ~32 MiB, a few tens of ms: memory-hard
SESSION_TTL_S = 12 * 3600
MAX_FAILURES = 5


class AuthError(Exception):
    """Login refused; the message is the same whatever was wrong, so it reveals nothing."""


# -- passwords -----------------------------------------------------------------

def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=128 * 1024 * 1024, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                         maxmem=128 * 1024 * 1024, dklen=len(digest) // 2)
    return hmac.compare_digest(got.hex(), digest)


def password_problem(password: str) -> str | None:
    """Why a new password is refused (Ukrainian / English), or None."""
    if len(password) < 12:
        return "Пароль має бути щонайменше 12 знаків / at least 12 characters"
    if len(set(password)) < 6:
        return "Пароль надто простий / too simple"
    return None


# -- TOTP (RFC 6238: SHA-1, 30 s, 6 digits) ------------------------------------------

def new_totp_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def totp_code(secret: str, step: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def totp_step(now: float) -> int:
    return int(now // 30)


def totp_uri(secret: str, username: str, issuer: str = "hromada-edge") -> str:
    label = urllib.parse.quote(f"{issuer}:{username}")
    return f"otpauth://totp/{label}?secret={secret}&issuer={urllib.parse.quote(issuer)}&digits=6&period=30"


def match_totp(secret: str, code: str, now: float, last_step: int) -> int | None:
    """The step a code belongs to (±1 step of clock drift), or None; a step already used is refused."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    current = totp_step(now)
    for step in (current, current - 1, current + 1):
        if step > last_step and hmac.compare_digest(totp_code(secret, step), code):
            return step
    return None


# -- accounts and sessions --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Session:
    username: str
    role: Role
    csrf: str
    must_change_password: bool

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]


def add_user(conn: sqlite3.Connection, username: str, role: Role) -> tuple[str, str]:
    """Make an account; return (one-time password, TOTP secret) to hand to its owner."""
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise ValueError("username: letters, digits, '.', '_', '-', at most 64")
    password = secrets.token_urlsafe(12)
    secret = new_totp_secret()
    conn.execute(
        "INSERT INTO users (username, role, password_hash, totp_secret, created_at) VALUES (?, ?, ?, ?, ?)",
        (username, role.value, hash_password(password), secret, iso_utc()))
    return password, secret


def login(conn: sqlite3.Connection, username: str, password: str, code: str,
          now: float) -> tuple[str, Session] | None:
    """Check password and TOTP; return (session id for the cookie, session), or None.

    A failure is counted (and may lock the account) in the caller's
    transaction, so this returns None rather than raising: raising would roll
    the count back.
    """
    row = conn.execute(
        "SELECT role, password_hash, totp_secret, totp_last_step, failed_logins, locked_until, disabled,"
        " must_change_password FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        hash_password(password)  # same time as a real check: do not reveal which names exist
        return None
    role, stored, secret, last_step, failures, locked_until, disabled, must_change = row
    if disabled or now < locked_until:
        return None
    step = match_totp(secret, code, now, last_step)
    if not check_password(password, stored) or step is None:
        failures += 1
        lock = now + min(3600, 30 * 2 ** (failures - MAX_FAILURES)) if failures >= MAX_FAILURES else 0
        conn.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?",
                     (failures, lock, username))
        return None
    conn.execute("UPDATE users SET failed_logins = 0, locked_until = 0, totp_last_step = ? WHERE username = ?",
                 (step, username))
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    conn.execute("INSERT INTO sessions (id_hash, username, csrf, created_ts, expires_ts) VALUES (?, ?, ?, ?, ?)",
                 (_hash(session_id), username, csrf, now, now + SESSION_TTL_S))
    conn.execute("DELETE FROM sessions WHERE expires_ts < ?", (now,))
    return session_id, Session(username, Role(role), csrf, bool(must_change))


def session(conn: sqlite3.Connection, session_id: str, now: float) -> Session | None:
    row = conn.execute(
        "SELECT s.username, u.role, s.csrf, u.must_change_password FROM sessions s JOIN users u USING (username)"
        " WHERE s.id_hash = ? AND s.expires_ts > ? AND u.disabled = 0", (_hash(session_id), now)).fetchone()
    return None if row is None else Session(row[0], Role(row[1]), row[2], bool(row[3]))


def logout(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_hash(session_id),))


def change_password(conn: sqlite3.Connection, username: str, old: str, new: str) -> None:
    row = conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
    if row is None or not check_password(old, row[0]):
        raise AuthError("wrong")
    problem = password_problem(new)
    if problem:
        raise ValueError(problem)
    conn.execute("UPDATE users SET password_hash = ?, must_change_password = 0 WHERE username = ?",
                 (hash_password(new), username))


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


