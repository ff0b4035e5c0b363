"""Heartbeats: a silent node is marked offline with an alert, cleared when it returns."""

from __future__ import annotations

import signal
from pathlib import Path

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


async def test_a_node_never_heard_from_raises_no_alert(hub: HubFixture, node_factory) -> None:
    import asyncio

    await asyncio.sleep(2.0)  # several heartbeat intervals of the fixture hub
    assert hub.query("SELECT count(*) FROM alerts") == [(0,)]
    assert await healthy(hub.url)
