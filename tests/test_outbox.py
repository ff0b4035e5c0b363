"""Store-and-forward: through hub outages and restarts, every message stored exactly once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from aiohttp import web

from edge import outbox as outbox_mod
from edge.config import load_node_config
from edge.node import Node
from edge.outbox import Delivery, Outbox, Priority, RetryLater
from edge.store import Store
from tests.conftest import HubFixture, healthy, node_toml, wait_until


def start_hub_process(h: HubFixture, procs, tmp_path: Path):
    return procs(["hub", "--config", str(h.config_path)], tmp_path / "hub.log")


async def node_pending(node: Node) -> int:
    return await node.outbox.pending_count()


async def test_hub_down_node_restarts_hub_back_every_message_stored_exactly_once(tmp_path, procs) -> None:
    h = HubFixture(tmp_path)
    code = h.code(role="power")
    hub_proc = start_hub_process(h, procs, tmp_path)
    await wait_until(lambda: healthy(h.url), what="hub up")
    path = tmp_path / "power.toml"
    path.write_text(node_toml(tmp_path / "power", "power-1", ["power"], h.url, code,
                              backoff_initial_s=0.1, backoff_max_s=0.5, batch_size=50))
    node = Node(load_node_config(path))
    await node.start()
    try:
        await wait_until(node.hub.approved.is_set, what="approval")
        hub_proc.stop()
        sent: list[str] = []
        for i in range(120):
            prio = (Priority.CRITICAL, Priority.EVENT, Priority.TELEMETRY)[i % 3]
            sent.append(await node.outbox.put("node.test.vote" if prio == 0 else "node.test.reading", {"i": i}, prio))
    finally:
        await node.stop()
    # The node restarts while the hub is still away, and keeps producing.
    node = Node(load_node_config(path))
    await node.start()
    try:
        for i in range(120, 200):
            sent.append(await node.outbox.put("node.test.reading", {"i": i}, Priority.TELEMETRY))
        assert await node_pending(node) >= 200
        start_hub_process(h, procs, tmp_path)
        await wait_until(lambda: h.query("SELECT count(*) FROM events WHERE kind LIKE 'node.test.%'")[0][0] == 200,
                         timeout=30, what="all 200 messages at the hub")
        await wait_until(lambda: _zero(node), timeout=10, what="outbox empty")
    finally:
        await node.stop()
    stored = [r[0] for r in h.query("SELECT msg_id FROM events WHERE kind LIKE 'node.test.%' ORDER BY msg_id")]
    assert sorted(sent) == stored
    payloads = sorted(int(r[0]) for r in h.query("SELECT json_extract(payload, '$.i') FROM events WHERE kind LIKE 'node.test.%'"))
    assert payloads == list(range(200))


async def _zero(node: Node) -> bool:
    return await node.outbox.pending_count() == 0


async def test_hub_killed_during_delivery_loses_and_duplicates_nothing(tmp_path, procs) -> None:
    h = HubFixture(tmp_path)
    code = h.code(role="camera")
    hub_proc = start_hub_process(h, procs, tmp_path)
    await wait_until(lambda: healthy(h.url), what="hub up")
    path = tmp_path / "cam.toml"
    path.write_text(node_toml(tmp_path / "cam", "cam-1", ["camera"], h.url, code,
                              backoff_initial_s=0.1, backoff_max_s=0.5, batch_size=100))
    node = Node(load_node_config(path))
    await node.start()
    try:
        await wait_until(node.hub.approved.is_set, what="approval")
        total = 4000

        def fill(conn):
            return [outbox_mod.enqueue(conn, "node.test.event", {"i": i}, Priority.EVENT) for i in range(total)]

        ids = await node.store.write(fill)
        node.outbox.wake()
        await wait_until(lambda: h.query("SELECT count(*) FROM events WHERE kind = 'node.test.event'")[0][0] > 300,
                         timeout=20, what="delivery under way")
        hub_proc.signal(signal.SIGKILL)
        hub_proc.p.wait(5)
        got_during = h.query("SELECT count(*) FROM events WHERE kind = 'node.test.event'")[0][0]
        assert got_during < total, "the kill must land mid-delivery for this test to mean anything"
        start_hub_process(h, procs, tmp_path)
        await wait_until(lambda: h.query("SELECT count(*) FROM events WHERE kind = 'node.test.event'")[0][0] == total,
                         timeout=60, what="every message after the hub restart")
        await wait_until(lambda: _zero(node), timeout=10, what="outbox empty")
    finally:
        await node.stop()
    stored = [r[0] for r in h.query("SELECT msg_id FROM events WHERE kind = 'node.test.event' ORDER BY msg_id")]
    assert stored == sorted(ids)


@pytest.fixture
async def store(tmp_path) -> Store:
    s = await Store.open(tmp_path / "n.sqlite", {"outbox": outbox_mod.MIGRATIONS})
    yield s
    await s.close()


async def test_full_outbox_drops_oldest_telemetry_and_never_votes_or_alarms(store: Store) -> None:
    ob = Outbox(store, max_rows=10, batch_size=100)
    critical = [await ob.put("voting.ballot", {"i": i}, Priority.CRITICAL) for i in range(6)]
    events = [await ob.put("node.event", {"i": i}, Priority.EVENT) for i in range(2)]
    telemetry = [await ob.put("power.reading", {"i": i}, Priority.TELEMETRY) for i in range(8)]

    async def hub_away(batch):
        raise RetryLater("hub away")

    with pytest.raises(RetryLater):
        await ob.deliver_once(hub_away)
    left = await store.run(lambda db: [r[0] for r in db.execute(
        "SELECT msg_id FROM outbox WHERE sent_at IS NULL ORDER BY msg_id")])
    assert set(critical) <= set(left) and set(events) <= set(left)
    assert left == sorted(critical + events + telemetry[-2:])
    assert ob.stats.dropped == 6


async def test_batches_go_most_important_first(store: Store) -> None:
    ob = Outbox(store, batch_size=3)
    await ob.put("power.reading", {}, Priority.TELEMETRY)
    await ob.put("node.event", {}, Priority.EVENT)
    vote = await ob.put("voting.ballot", {}, Priority.CRITICAL)
    seen: list[list[str]] = []

    async def hub(batch):
        seen.append([m["kind"] for m in batch])
        return Delivery()

    await ob.deliver_once(hub)
    assert seen == [["voting.ballot", "node.event", "power.reading"]]
    assert await ob.pending_count() == 0
    assert vote


async def test_a_message_the_hub_rejects_for_good_is_not_resent(store: Store) -> None:
    ob = Outbox(store)
    bad = await ob.put("node.test.x", {}, Priority.EVENT)
    good = await ob.put("node.test.x", {}, Priority.EVENT)
    calls: list[list[str]] = []

    async def hub(batch):
        calls.append([m["msg_id"] for m in batch])
        return Delivery(rejected={bad: "invalid"})

    assert await ob.deliver_once(hub) == 2
    assert await ob.deliver_once(hub) == 0
    assert calls == [[bad, good]]
    assert ob.stats.rejected == 1


async def test_retry_after_from_the_hub_is_honoured(store: Store, tmp_path) -> None:
    """A real HTTP server answering 503 with Retry-After: the node waits that long."""
    from edge.config import parse_node_config
    from edge.hubclient import HubClient
    from edge.identity import Identity

    hits: list[float] = []

    async def busy(request: web.Request) -> web.Response:
        hits.append(asyncio.get_running_loop().time())
        return web.Response(status=503, headers={"Retry-After": "1"})

    app = web.Application()
    app.router.add_post("/api/v1/ingest", busy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        cfg = parse_node_config({"node": {"name": "n", "site": "s", "roles": ["power"], "state_dir": str(tmp_path)},
                                 "hub": {"url": f"http://127.0.0.1:{port}"}})
        client = HubClient(cfg, Identity.load_or_create(tmp_path), store, None, lambda: 1)
        client.state["hub_key"] = "x"
        ob = Outbox(store, backoff_initial_s=0.01, backoff_max_s=0.02)
        await ob.put("node.test.x", {}, Priority.EVENT)
        task = asyncio.create_task(ob.run(client.send_batch))
        await wait_until(lambda: len(hits) >= 2, timeout=5, what="second attempt")
        task.cancel()
        await client.close()
        # Without Retry-After the backoff would have retried within 0.02 s.
        assert hits[1] - hits[0] >= 0.9
    finally:
        await runner.cleanup()
