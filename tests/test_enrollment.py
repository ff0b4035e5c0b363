"""Enrollment: one-time codes, pending until approved, pinned hub key, revocation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.hub.registry import EnrollmentCode
from edge.hubclient import HubRefused, HubUnavailable
from tests.conftest import HubFixture, wait_until


async def test_node_with_pre_approved_code_enrolls_and_appears_online(hub: HubFixture, node_factory) -> None:
    node = await node_factory("hall-1", hub.url, hub.code(role="hall"))
    await wait_until(node.hub.approved.is_set, what="approval")
    rows = await wait_until(lambda: hub.query("SELECT name, status, online, roles FROM nodes"), what="heartbeat")
    await wait_until(lambda: hub.query("SELECT 1 FROM nodes WHERE online = 1"), what="online")
    assert rows[0][:2] == ("hall-1", "approved")
    assert rows[0][3] == "hall"
    # The node pinned exactly the hub's key.
    assert node.hub.hub_key == hub.hub.identity.public_key_b64


async def test_node_stays_pending_until_an_administrator_approves(hub: HubFixture, node_factory, tmp_path) -> None:
    node = await node_factory("queue-1", hub.url, hub.code(role="queue", pre_approved=False), roles=["queue"])
    await wait_until(lambda: hub.query("SELECT status FROM nodes") == [("pending",)], what="pending")
    # Pending nodes may not report: nothing from it is stored.
    await node.outbox.put("node.test.event", {"n": 1})
    time_to_try = 1.0
    import asyncio
    await asyncio.sleep(time_to_try)
    assert not node.hub.approved.is_set()
    assert hub.query("SELECT count(*) FROM events") == [(0,)]
    from edge.cli import main
    node_id = node.identity.id
    assert main(["hub", "approve", node_id, "--config", str(hub.config_path)]) == 0
    await wait_until(node.hub.approved.is_set, timeout=15, what="approval seen by the node")
    await wait_until(lambda: hub.query("SELECT count(*) FROM events WHERE kind = 'node.test.event'") == [(1,)],
                     what="event delivered after approval")


async def test_reused_code_is_refused_for_a_second_node(hub: HubFixture, node_factory) -> None:
    code = hub.code(role="hall")
    first = await node_factory("hall-1", hub.url, code)
    await wait_until(first.hub.approved.is_set, what="first approval")
    second = await node_factory("hall-2", hub.url, code)
    with pytest.raises(HubRefused) as err:
        await second.hub.enroll()
    assert "already used" in err.value.message
    assert hub.query("SELECT name FROM nodes") == [("hall-1",)]


async def test_expired_code_is_refused(hub: HubFixture, node_factory) -> None:
    code = hub.code(role="hall", ttl=-1)
    node = await node_factory("hall-1", hub.url, code)
    with pytest.raises(HubRefused) as err:
        await node.hub.enroll()
    assert "expired" in err.value.message
    assert hub.query("SELECT count(*) FROM nodes") == [(0,)]


async def test_wrong_secret_is_refused_and_code_stays_unused(hub: HubFixture, node_factory) -> None:
    good = EnrollmentCode.parse(hub.code(role="hall"))
    forged = EnrollmentCode(good.token_id, "a" * 26, good.hub_fingerprint)
    node = await node_factory("hall-1", hub.url, str(forged))
    with pytest.raises(HubRefused) as err:
        await node.hub.enroll()
    assert "wrong enrollment code" in err.value.message
    assert hub.query("SELECT used_at FROM tokens") == [(None,)]


async def test_code_for_another_role_is_refused(hub: HubFixture, node_factory) -> None:
    node = await node_factory("cam-1", hub.url, hub.code(role="hall"), roles=["camera"])
    with pytest.raises(HubRefused) as err:
        await node.hub.enroll()
    assert "role" in err.value.message
    assert hub.query("SELECT count(*) FROM nodes") == [(0,)]


async def test_impostor_hub_whose_key_is_not_in_the_code_is_not_pinned(hub: HubFixture, node_factory,
                                                                          tmp_path: Path) -> None:
    other = HubFixture(tmp_path / "impostor")
    await other.start()
    try:
        code = hub.code(role="hall")  # fingerprint of the real hub
        # Make the same token exist at the impostor so it would say yes.
        other_code = EnrollmentCode.parse(other.code(role="hall"))
        real = EnrollmentCode.parse(code)
        node = await node_factory("hall-1", other.url, str(EnrollmentCode(other_code.token_id, other_code.secret,
                                                                          real.hub_fingerprint)))
        with pytest.raises(HubUnavailable) as err:
            await node.hub.enroll()
        assert "fingerprint" in str(err.value)
        assert node.hub.hub_key is None
    finally:
        await other.stop()


async def test_revoked_node_is_refused_and_stops_reporting(hub: HubFixture, node_factory) -> None:
    node = await node_factory("cam-1", hub.url, hub.code(role="camera"), roles=["camera"])
    await wait_until(node.hub.connected.is_set, what="websocket")
    from edge.cli import main
    assert main(["hub", "revoke", node.identity.id, "--config", str(hub.config_path)]) == 0
    with pytest.raises(HubRefused) as err:
        await node.hub.request("POST", "/api/v1/heartbeat", {"health": {}})
    assert err.value.status == 403 and err.value.code == "node_revoked"
    before = hub.query("SELECT count(*) FROM events")[0][0]
    with pytest.raises(HubRefused):
        await node.hub.request("POST", "/api/v1/ingest", {"messages": []})
    assert hub.query("SELECT count(*) FROM events")[0][0] == before
    # Its WebSocket is closed by the hub.
    await wait_until(lambda: not node.hub.connected.is_set(), timeout=10, what="websocket closed")


async def test_enrollment_survives_a_node_restart_without_the_code(hub: HubFixture, node_factory, tmp_path) -> None:
    code_file = tmp_path / "code.txt"
    code_file.write_text(hub.code(role="hall"))
    from edge.config import load_node_config
    from edge.node import Node
    from tests.conftest import node_toml

    path = tmp_path / "n.toml"
    path.write_text(node_toml(tmp_path / "n", "hall-1", ["hall"], hub.url).replace(
        'enrollment_code = ""', f'enrollment_code_file = "{code_file}"'))
    node = Node(load_node_config(path))
    await node.start()
    await wait_until(node.hub.approved.is_set, what="approval")
    await node.stop()
    assert not code_file.exists(), "a used enrollment code file is deleted"
    node = Node(load_node_config(path))
    await node.start()
    try:
        assert node.hub.approved.is_set()
        await node.hub.heartbeat_once()
        assert hub.query("SELECT count(*) FROM nodes") == [(1,)]
    finally:
        await node.stop()


async def test_hub_commands_reach_the_node_signed_and_roster_lists_site_peers(hub: HubFixture, node_factory) -> None:
    a = await node_factory("hall-1", hub.url, hub.code(role="hall"))
    b = await node_factory("console-1", hub.url, hub.code(role="console"), roles=["console"])
    other_site = await node_factory("cnap-1", hub.url, hub.code(role="queue", site="cnap"), roles=["queue"],
                                    site="cnap")
    for n in (a, b, other_site):
        await wait_until(n.hub.connected.is_set, what="websocket")
    reply = await hub.hub.send_command(a.identity.id, "ping", {"echo": "добрий день"})
    assert reply["ok"] and reply["result"]["echo"] == "добрий день"
    await wait_until(lambda: len(a.hub.roster) == 2, what="roster with both site nodes")
    assert {p["node_id"] for p in a.hub.roster} == {a.identity.id, b.identity.id}
    assert all(p["public_key"] for p in a.hub.roster)
    # The roster is cached for hub outages.
    cached = await a.store.run(lambda db: db.execute("SELECT value FROM node_state WHERE key='roster'").fetchone())
    assert len(json.loads(cached[0])) == 2


def test_enrollment_code_round_trips_and_rejects_garbage() -> None:
    code = EnrollmentCode("abcdefgh", "a" * 26, "0123456789abcdef")
    assert EnrollmentCode.parse(str(code)) == code
    assert EnrollmentCode.parse("  " + str(code).upper().replace("HRM1", "hrm1") + "\n") == code
    for bad in ("", "HRM1-abc", "HRM2-abcdefgh-" + "a" * 26 + "-0123456789abcdef", str(code) + "x"):
        with pytest.raises(ValueError):
            EnrollmentCode.parse(bad)


