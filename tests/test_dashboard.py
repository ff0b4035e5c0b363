"""Dashboard accounts and permissions over the real API: who may see and do what."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import aiohttp
import pytest

from edge.hub import auth
from tests.conftest import ROOT, HubFixture, wait_until
from tests.dash_fixtures import NEW_PASSWORD, add_account, logged_in


def test_passwords_are_scrypt_and_totp_matches_rfc6238() -> None:
    stored = auth.hash_password("коректний кінь")
    assert stored.startswith("scrypt$32768$8$1$") and auth.check_password("коректний кінь", stored)
    assert not auth.check_password("інший", stored)
    # RFC 6238 test vector (SHA-1, secret "12345678901234567890", T = 59 s → 94287082, last 6 digits).
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert auth.totp_code(secret, 59 // 30) == "287082"
    assert auth.match_totp(secret, "287082", 59, last_step=0) == 1
    assert auth.match_totp(secret, "287082", 59, last_step=1) is None, "a code is accepted once"


async def test_no_account_exists_until_one_is_made_and_then_it_needs_totp(hub: HubFixture) -> None:
    async with aiohttp.ClientSession() as s:
        for body in ({"username": "admin", "password": "admin", "totp": "000000"},
                     {"username": "root", "password": "", "totp": ""}):
            async with s.post(hub.url + "/api/v1/login", json=body) as r:
                assert r.status == 401
    out = subprocess.run([sys.executable, "-m", "edge.cli", "hub", "user", "add", "olena", "--role", "admin",
                          "--config", str(hub.config_path)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and "otpauth://totp/" in out.stdout and "one-time password" in out.stdout
    password = out.stdout.split("change at first login): ")[1].split()[0]
    secret = out.stdout.split("TOTP (Google Authenticator, FreeOTP…): ")[1].split()[0]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.post(hub.url + "/api/v1/login", json={"username": "olena", "password": password,
                                                           "totp": "123456"}) as r:
            assert r.status == 401, "the password alone is not enough"
        code = auth.totp_code(secret, auth.totp_step(time.time()))
        async with s.post(hub.url + "/api/v1/login", json={"username": "olena", "password": password,
                                                           "totp": code}) as r:
            assert r.status == 200
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            me = await r.json()
        assert me["must_change_password"] is True
        async with s.get(hub.url + "/api/v1/dash/overview") as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "change_password"
        async with s.post(hub.url + "/api/v1/password", json={"old": password, "new": "short"},
                          headers={"X-CSRF-Token": me["csrf"]}) as r:
            assert r.status == 400
    async with aiohttp.ClientSession() as s:
        async with s.post(hub.url + "/api/v1/login", json={"username": "olena", "password": password,
                                                           "totp": code}) as r:
            assert r.status == 401, "the same TOTP code twice is refused"


async def test_repeated_failures_lock_the_account(hub: HubFixture) -> None:
    acct = add_account(hub.state, "taras", "technician")
    async with aiohttp.ClientSession() as s:
        for _ in range(auth.MAX_FAILURES):
            async with s.post(hub.url + "/api/v1/login", json={"username": "taras", "password": "wrong",
                                                               "totp": acct.code()}) as r:
                assert r.status in (401, 429)
            acct.last_step = 0
        async with s.post(hub.url + "/api/v1/login", json={"username": "taras", "password": acct.password,
                                                           "totp": acct.code()}) as r:
            assert r.status == 401, "locked for a while even with the right password"


ENDPOINTS = [
    ("GET", "/api/v1/dash/overview", "view"),
    ("GET", "/api/v1/nodes", "view"),
    ("GET", "/api/v1/alerts", "view"),
    ("GET", "/api/v1/dash/events", "view"),
    ("GET", "/api/v1/dash/cameras", "cameras"),
    ("GET", "/api/v1/dash/camera-token", "cameras"),
    ("GET", "/api/v1/dash/enrollment", "enroll"),
    ("POST", "/api/v1/dash/tokens", "enroll"),
    ("POST", "/api/v1/dash/alerts/999999/ack", "act"),
]


@pytest.mark.parametrize("role", ["admin", "technician", "viewer", "police"])
async def test_each_role_gets_exactly_its_permissions(hub: HubFixture, role: str) -> None:
    acct = add_account(hub.state, f"user-{role}", role)
    session, me = await logged_in(hub.url, acct)
    try:
        for method, path, permission in ENDPOINTS:
            body = {"site": "rada", "role": "console"} if path.endswith("tokens") else ({} if method == "POST" else None)
            async with session.request(method, path, json=body, headers={"X-CSRF-Token": me["csrf"]}) as r:
                allowed = permission in auth.PERMISSIONS[auth.Role(role)]
                if allowed:
                    assert r.status in (200, 409), (role, path, r.status)  # 409: that alert does not exist
                else:
                    assert r.status == 403, (role, path, r.status)
    finally:
        await session.close()


async def test_state_changes_need_the_csrf_token(hub: HubFixture) -> None:
    session, me = await logged_in(hub.url, add_account(hub.state, "ira", "admin"))
    try:
        async with session.post("/api/v1/dash/tokens", json={"site": "rada", "role": "hall"}) as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "csrf"
        async with session.post("/api/v1/dash/tokens", json={"site": "rada", "role": "hall"},
                                headers={"X-CSRF-Token": me["csrf"]}) as r:
            data = await r.json()
            assert r.status == 200 and data["code"].startswith("HRM1-") and data["qr_svg"].startswith("<?xml")
    finally:
        await session.close()
    assert hub.query("SELECT actor, action FROM admin_log WHERE action = 'token'") == [("ira", "token")]


async def test_an_alert_is_acknowledged_and_resolved_with_who_and_when_and_the_stream_says_so(
        hub: HubFixture, node_factory) -> None:
    node = await node_factory("power-1", hub.url, hub.code(role="power"), roles=["power"])
    await wait_until(node.hub.approved.is_set, what="approval")
    session, me = await logged_in(hub.url, add_account(hub.state, "andrii", "technician"))
    try:
        async with session.get("/api/v1/dash/stream") as stream:
            await stream.content.readline()
            await node.outbox.put("alert", {"key": "ups:onbatt", "state": "raised", "severity": "critical",
                                            "message": "ДБЖ працює від батареї", "message_en": "UPS on battery"})
            got = b""
            while b"alerts" not in got:
                got += await asyncio.wait_for(stream.content.readline(), 10)
        async with session.get("/api/v1/alerts") as r:
            alert = next(a for a in (await r.json())["alerts"] if a["kind"] == "ups")
        async with session.post(f"/api/v1/dash/alerts/{alert['id']}/ack", headers={"X-CSRF-Token": me["csrf"]}) as r:
            assert r.status == 200
        async with session.post(f"/api/v1/dash/alerts/{alert['id']}/resolve",
                                headers={"X-CSRF-Token": me["csrf"]}) as r:
            assert r.status == 200
        row = hub.query("SELECT acked_by, acked_at IS NOT NULL, resolved_by, cleared_at IS NOT NULL FROM alerts"
                        " WHERE id = ?", alert["id"])
        assert row == [("andrii", 1, "andrii", 1)]
    finally:
        await session.close()


async def test_approving_a_pending_node_from_the_dashboard(hub: HubFixture, node_factory) -> None:
    node = await node_factory("cam-1", hub.url, hub.code(role="camera", pre_approved=False), roles=["camera"])
    await wait_until(lambda: hub.query("SELECT status FROM nodes") == [("pending",)], what="pending")
    session, me = await logged_in(hub.url, add_account(hub.state, "maria", "admin"))
    try:
        async with session.get("/api/v1/dash/enrollment") as r:
            pending = (await r.json())["pending"]
        assert [p["name"] for p in pending] == ["cam-1"]
        async with session.post(f"/api/v1/dash/nodes/{pending[0]['node_id']}/approve",
                                headers={"X-CSRF-Token": me["csrf"]}) as r:
            assert r.status == 200
    finally:
        await session.close()
    await wait_until(node.hub.approved.is_set, timeout=15, what="the node learns it is approved")
    assert hub.query("SELECT decided_by FROM nodes") == [("maria",)]


def test_new_password_rules() -> None:
    assert auth.password_problem("short") is not None
    assert auth.password_problem("aaaaaaaaaaaaaaa") is not None
    assert auth.password_problem(NEW_PASSWORD) is None
