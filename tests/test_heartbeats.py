"""Heartbeats: a silent node is marked offline with an alert, cleared when it returns."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from edge.hub import alerts
from tests.conftest import HubFixture, healthy, node_toml, wait_until


async def test_killed_node_goes_offline_with_an_alert_that_clears_on_return(tmp_path: Path, procs) -> None:
    h = HubFixture(tmp_path, heartbeat_interval_s=0.3, offline_after_missed=3)
    await h.start()
    try:
        cfg = tmp_path / "power.toml"
        cfg.write_text(node_toml(tmp_path / "power", "power-1", ["power"], h.url, h.code(role="power")))
        node = procs(["node", "--config", str(cfg)], tmp_path / "node.log")
        await wait_until(lambda: h.query("SELECT online FROM nodes") == [(1,)], timeout=20, what="online")
        node_id = h.query("SELECT node_id FROM nodes")[0][0]
        health = h.query("SELECT json_extract(health, '$.uptime_s'), json_extract(health, '$.version') FROM nodes")
        assert health[0][1] == "0.1.0" and health[0][0] is not None
        assert h.query("SELECT clock_offset_s IS NOT NULL FROM nodes") == [(1,)]

        node.signal(signal.SIGKILL)
        await wait_until(lambda: h.query("SELECT online FROM nodes") == [(0,)], timeout=10, what="offline")
        alerts = h.query("SELECT kind, severity, message, cleared_at FROM alerts WHERE node_id = ?", node_id)
        assert len(alerts) == 1
        kind, severity, message, cleared = alerts[0]
        assert (kind, severity, cleared) == ("node-offline", "warning", None)
        assert "power-1" in message and "не на зв'язку" in message.lower()

        procs(["node", "--config", str(cfg)], tmp_path / "node2.log")
        await wait_until(lambda: h.query("SELECT online FROM nodes") == [(1,)], timeout=20, what="back online")
        assert h.query("SELECT count(*) FROM alerts WHERE cleared_at IS NULL") == [(0,)]
        assert h.query("SELECT count(*) FROM alerts") == [(1,)]
    finally:
        await h.stop()


async def test_only_a_node_that_was_online_and_fell_silent_raises_an_offline_alert(tmp_path: Path,
                                                                                   node_factory) -> None:
    h = HubFixture(tmp_path, heartbeat_interval_s=0.3, offline_after_missed=3)
    await h.start()
    try:
        assert h.hub is not None and h.hub.store is not None
        # Approved at set-up and switched off before its first heartbeat: never heard from.
        h.query("INSERT INTO nodes (node_id, public_key, name, site, roles, status, enrolled_at)"
                " VALUES ('n-never', 'key', 'never-1', 'rada', '[\"power\"]', 'approved', '2025-03-05T08:00:00Z')")
        node = await node_factory("power-1", h.url, h.code(role="power"), roles=["power"])
        await wait_until(lambda: h.query("SELECT online FROM nodes WHERE name = 'power-1'") == [(1,)], what="online")
        await node.stop()
        offline = "SELECT n.name FROM alerts a JOIN nodes n USING (node_id) WHERE a.cleared_at IS NULL"
        await wait_until(lambda: h.query(offline) == [("power-1",)], timeout=10, what="power-1's offline alert")

        # A technician resolves it while the node stays silent; later sweeps must not raise it again.
        [(alert_id,)] = h.query("SELECT id FROM alerts")
        assert await h.hub.store.write(lambda conn: alerts.resolve(conn, alert_id, "technician"))
        await asyncio.sleep(1.0)  # six sweeps of this hub (every 0.15 s)
        assert h.query(offline) == []
        assert h.query("SELECT count(*) FROM alerts") == [(1,)]
        assert h.query("SELECT name, online FROM nodes ORDER BY name") == [("never-1", 0), ("power-1", 0)]
        assert await healthy(h.url)
    finally:
        await h.stop()
