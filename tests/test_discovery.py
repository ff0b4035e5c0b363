"""mDNS discovery between separate processes on loopback."""

from __future__ import annotations

import signal
from pathlib import Path

from edge.discovery import NODE_SERVICE, Discovery
from tests.conftest import HubFixture, node_toml, wait_until


async def test_node_without_hub_url_finds_the_hub_by_mdns_and_enrolls(tmp_path: Path, procs) -> None:
    h = HubFixture(tmp_path)
    h.config_path.write_text(h.config_path.read_text().replace("enabled = false", "enabled = true"))
    code = h.code(role="queue")
    procs(["hub", "--config", str(h.config_path)], tmp_path / "hub.log")
    cfg = tmp_path / "queue.toml"
    cfg.write_text(node_toml(tmp_path / "queue", "queue-1", ["queue"], "", code, discovery=True, site="cnap"))
    procs(["node", "--config", str(cfg)], tmp_path / "node.log")
    await wait_until(lambda: h.query("SELECT name, status, online FROM nodes") == [("queue-1", "approved", 1)],
                     timeout=30, what="node enrolled through mDNS")
    # A node with no code is seen by mDNS and listed as not enrolled, never trusted.
    cfg2 = tmp_path / "kiosk.toml"
    cfg2.write_text(node_toml(tmp_path / "kiosk", "kiosk-1", ["kiosk"], "", "", discovery=True, site="cnap"))
    stranger = procs(["node", "--config", str(cfg2)], tmp_path / "node2.log")

    def discovered():
        return h.query("SELECT instance, roles FROM discovered WHERE instance = 'kiosk-1'")

    found = await wait_until(discovered, timeout=20, what="kiosk listed as discovered")
    assert "kiosk" in found[0][1]
    assert h.query("SELECT count(*) FROM nodes WHERE name = 'kiosk-1'") == [(0,)]
    stranger.stop()


async def test_a_stopped_node_says_goodbye(tmp_path: Path, procs) -> None:
    watcher = Discovery(["127.0.0.1"])
    await watcher.start()
    try:
        await watcher.browse(NODE_SERVICE)
        cfg = tmp_path / "cam.toml"
        cfg.write_text(node_toml(tmp_path / "cam", "cam-goodbye", ["camera"], "http://127.0.0.1:9", "",
                                 discovery=True))
        node = procs(["node", "--config", str(cfg)], tmp_path / "node.log")
        peer = await watcher.wait_for(NODE_SERVICE, lambda p: p.instance == "cam-goodbye", 20)
        assert peer is not None and peer.roles == ("camera",) and len(peer.id) == 21
        assert peer.port > 0
        node.signal(signal.SIGTERM)
        await wait_until(lambda: "cam-goodbye" not in watcher.peers[NODE_SERVICE], timeout=10,
                         what="goodbye seen")
    finally:
        await watcher.close()
