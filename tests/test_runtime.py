"""Identity, store, sd_notify, /health and /metrics of a running node."""

from __future__ import annotations

import asyncio
import socket
import stat
import time
from pathlib import Path

from edge.identity import Identity, id_from_public_key, seal, open_sealed, SignatureError
from edge.store import Store, connect
from edge.watchdog import Notifier
from tests.conftest import HubFixture, http_json, node_toml, wait_until

import pytest


def test_key_is_made_once_private_and_gives_a_stable_id(tmp_path: Path) -> None:
    a = Identity.load_or_create(tmp_path / "state")
    key = tmp_path / "state" / "node.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    b = Identity.load_or_create(tmp_path / "state")
    assert a.id == b.id == id_from_public_key(a.public_key)
    assert a.id != Identity.load_or_create(tmp_path / "other").id


def test_sealed_hub_message_is_refused_when_altered_or_signed_by_another(tmp_path: Path) -> None:
    hub = Identity.load_or_create(tmp_path / "hub", "hub.key", "h")
    other = Identity.load_or_create(tmp_path / "other", "hub.key", "h")
    envelope = seal(hub, {"type": "command", "name": "shutdown"})
    assert open_sealed(hub.public_key_b64, envelope)["name"] == "shutdown"
    with pytest.raises(SignatureError):
        open_sealed(hub.public_key_b64, envelope.replace("shutdown", "reboot"))
    with pytest.raises(SignatureError):
        open_sealed(hub.public_key_b64, seal(other, {"type": "command", "name": "shutdown"}))


async def test_store_migrations_run_once_and_use_wal_with_full_sync(tmp_path: Path) -> None:
    migrations = {"demo": ["CREATE TABLE a (x INTEGER);", "ALTER TABLE a ADD COLUMN y TEXT;"]}
    s = await Store.open(tmp_path / "s.sqlite", migrations)
    assert await s.migrate(migrations) == []
    mode = await s.run(lambda db: db.execute("PRAGMA journal_mode").fetchone()[0])
    sync = await s.run(lambda db: db.execute("PRAGMA synchronous").fetchone()[0])
    await s.write(lambda conn: conn.execute("INSERT INTO a VALUES (1, 'одна')"))
    await s.close()
    assert (mode, sync) == ("wal", 2)
    db = connect(tmp_path / "s.sqlite")
    assert db.execute("SELECT x, y FROM a").fetchall() == [(1, "одна")]
    assert db.execute("SELECT component, version FROM schema_migrations").fetchall() == [("demo", 1), ("demo", 2)]


async def test_failed_migration_step_leaves_nothing_half_done(tmp_path: Path) -> None:
    with pytest.raises(Exception):
        await Store.open(tmp_path / "s.sqlite", {"demo": ["CREATE TABLE a (x); CREATE TABLE a (y);"]})
    db = connect(tmp_path / "s.sqlite")
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'a'").fetchall() == []


def test_every_role_is_found_through_the_registry_at_its_composition_root() -> None:
    from edge import roles

    for name, target in roles.ROLE_FACTORIES.items():
        module, _, attr = target.partition(":")
        assert (module.rsplit(".", 1)[-1], attr) == ("role", "create"), name
        factory = roles.factory_for(name)
        assert callable(factory) and factory.__module__ == module, name
    assert set(roles.ROLE_FACTORIES) <= set(roles.NODE_ROLES)


def test_notifier_is_inert_without_systemd() -> None:
    n = Notifier({})
    assert not n.enabled and n.watchdog_interval is None and n.ready() is False


async def test_node_sends_ready_then_watchdog_pings_at_half_the_interval(tmp_path: Path, procs) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.setblocking(False)
    cfg = tmp_path / "n.toml"
    cfg.write_text(node_toml(tmp_path / "n", "hall-1", ["hall"], "http://127.0.0.1:9", ""))
    procs(["node", "--config", str(cfg)], tmp_path / "n.log",
          env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"})
    got: list[tuple[float, str]] = []
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum("WATCHDOG=1" in m for _, m in got) < 6:
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), 1.0)
            got.append((time.monotonic(), data.decode()))
        except asyncio.TimeoutError:
            pass
    sock.close()
    messages = [m for _, m in got]
    ready = [i for i, m in enumerate(messages) if "READY=1" in m]
    pings = [t for t, m in got if m == "WATCHDOG=1"]
    assert ready, messages
    assert len(pings) >= 6
    assert messages.index("WATCHDOG=1") > ready[0] or ready[0] == 0
    assert Notifier({"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"}).watchdog_interval == 0.2


async def test_watchdog_pings_only_after_a_health_check_passes_and_withholds_it_otherwise(tmp_path: Path) -> None:
    """One WATCHDOG=1 per passing health check; a failing or hanging check sends none."""
    from edge.watchdog import run_watchdog

    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.setblocking(False)
    notifier = Notifier({"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "2000"})  # ping every 1 ms
    # Checks 1, 2 and 5 pass, 3 fails, 4 hangs past the timeout; check 6 never returns, so
    # every ping the watchdog would send for checks 1-5 has been sent when it starts.
    calls = 0
    sixth = asyncio.Event()

    async def healthy() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("database writer does not answer")
        if calls == 4:
            await asyncio.sleep(10)
        if calls == 6:
            sixth.set()
            await asyncio.Event().wait()

    pings: list[str] = []

    async def systemd() -> None:  # reads as it comes: a full socket queue would block the sender
        loop = asyncio.get_running_loop()
        while True:
            pings.append((await loop.sock_recv(sock, 4096)).decode())

    reader = asyncio.create_task(systemd())
    task = asyncio.create_task(run_watchdog(notifier, healthy, timeout=0.05))
    try:
        await asyncio.wait_for(sixth.wait(), 5)
        await asyncio.sleep(0.05)  # let the reader drain what was sent
    finally:
        task.cancel()
        reader.cancel()
        sock.close()
    assert calls == 6
    assert pings == ["WATCHDOG=1"] * 3


async def test_node_health_and_metrics_pages(hub: HubFixture, node_factory) -> None:
    node = await node_factory("power-1", hub.url, hub.code(role="power"), roles=["power"])
    await wait_until(node.hub.connected.is_set, what="connected")
    status, health = await http_json("GET", node.server.url + "/health")
    assert status == 200 and health["enrolled"] is True and health["roles"] == ["power"]
    assert health["id"] == node.identity.id
    status, text = await http_json("GET", node.server.url + "/metrics")
    assert status == 200
    assert 'hromada_node_enrolled{node="power-1"} 1' in text
    assert "# TYPE hromada_outbox_pending gauge" in text
    status, text = await http_json("GET", hub.url + "/metrics")
    assert 'hromada_hub_nodes{status="approved"} 1' in text
    status, doc = await http_json("GET", hub.url + "/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.") and "/api/v1/ingest" in doc["paths"]


RELEASE = asyncio.Event()


class SlowRole:
    """A role whose start takes as long as the test says (a queue loading a long day, say)."""

    name = "hall"

    async def start(self) -> None:
        await RELEASE.wait()

    async def stop(self) -> None:
        return None

    def health(self) -> dict:
        return {}


async def slow_role(ctx) -> SlowRole:
    return SlowRole()


async def test_health_says_starting_until_the_roles_have_started(hub: HubFixture, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Found from a fresh clone: /health said ok while the queue was still loading, and the first
    # operator action after it got 503 "not ready".
    from edge import roles
    from edge.config import load_node_config
    from edge.node import Node

    monkeypatch.setitem(roles.ROLE_FACTORIES, "hall", "tests.test_runtime:slow_role")
    RELEASE.clear()
    path = tmp_path / "slow.toml"
    path.write_text(node_toml(tmp_path / "slow", "slow-1", ["hall"], hub.url, hub.code(role="hall"), extra=" "))
    node = Node(load_node_config(path))
    starting = asyncio.create_task(node.start())
    try:
        await wait_until(lambda: node.server is not None and node.server.port, what="the server listening")
        url = node.server.url + "/health"
        status, body = await wait_until(lambda: http_json("GET", url), what="an answer")
        assert (status, body["status"]) == (503, "starting")
        RELEASE.set()
        await starting
        status, body = await http_json("GET", url)
        assert (status, body["status"]) == (200, "ok")
    finally:
        RELEASE.set()
        await node.stop()
