"""Accounts for dashboard tests, made as `hromada hub user add` makes them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from edge.hub import auth
from edge.store import connect, migrate, transaction
from edge.hub.schema import MIGRATIONS

NEW_PASSWORD = "довгий-пароль-2026!"


@dataclass
class Account:
    username: str
    role: str
    password: str
    secret: str
    last_step: int = 0

    def code(self) -> str:
        """A TOTP code not used before (a code is accepted once: wait for the next step if needed)."""
        step = auth.totp_step(time.time())
        if step <= self.last_step:
            time.sleep(30 - time.time() % 30 + 0.05)
            step = auth.totp_step(time.time())
        self.last_step = step
        return auth.totp_code(self.secret, step)


def add_account(hub_state: Any, username: str, role: str) -> Account:
    db = connect(hub_state / "hub.sqlite")
    try:
        migrate(db, MIGRATIONS)
        with transaction(db) as conn:
            password, secret = auth.add_user(conn, username, auth.Role(role))
    finally:
        db.close()
    return Account(username, role, password, secret)


async def logged_in(base_url: str, account: Account, change_password: bool = True) -> tuple[aiohttp.ClientSession, dict]:
    """A client session logged in as ``account`` (its one-time password replaced)."""
    session = aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post("/api/v1/login", json={"username": account.username, "password": account.password,
                                                   "totp": account.code()}) as r:
        assert r.status == 200, await r.text()
        me = await r.json()
    if change_password and me["must_change_password"]:
        async with session.post("/api/v1/password", json={"old": account.password, "new": NEW_PASSWORD},
                                headers={"X-CSRF-Token": me["csrf"]}) as r:
            assert r.status == 200, await r.text()
        account.password = NEW_PASSWORD
        me["must_change_password"] = False
    return session, me
