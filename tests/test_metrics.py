"""The /metrics pages of a node and the hub, read back with prometheus-client's own parser."""

from __future__ import annotations

import aiohttp
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from edge.metrics import Metrics
from tests.conftest import HubFixture, wait_until


async def scrape(url: str) -> tuple[str, dict[str, Metric]]:
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/metrics") as r:
            assert r.status == 200
            text = await r.text()
            return r.headers["Content-Type"], {f.name: f for f in text_string_to_metric_families(text)}


def sample(families: dict[str, Metric], name: str, **labels: str) -> float:
    for family in families.values():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise KeyError(f"{name} {labels} is not on the page")


async def test_a_counter_past_ten_million_reads_back_with_every_digit(hub: HubFixture, node_factory) -> None:
    node = await node_factory("power-1", hub.url, hub.code(role="power"), roles=["power"])
    node.metrics.counter("hromada_test_events_total", "A counter a role keeps.").inc(12345678)
    node.metrics.collector(lambda: [("hromada_test_snapshot_total", "counter", "A count a role reports.",
                                     [({"seat": "1"}, 87654321)])])
    content_type, families = await scrape(node.server.url)
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    assert sample(families, "hromada_test_events_total", node="power-1") == 12345678
    assert sample(families, "hromada_test_snapshot_total", node="power-1", seat="1") == 87654321


async def test_every_series_on_a_node_page_names_the_node(hub: HubFixture, node_factory) -> None:
    node = await node_factory("power-1", hub.url, hub.code(role="power"), roles=["power"])
    await wait_until(lambda: node.outbox.stats.sent >= 1, what="the node.started message delivered")
    _, families = await scrape(node.server.url)
    samples = [s for f in families.values() for s in f.samples]
    assert any(s.name == "hromada_outbox_send_seconds_bucket" for s in samples)
    assert {s.labels.get("node") for s in samples} == {"power-1"}


async def test_delivering_a_batch_is_timed_on_the_node_and_on_the_hub(hub: HubFixture, node_factory) -> None:
    node = await node_factory("power-1", hub.url, hub.code(role="power"), roles=["power"])
    await wait_until(lambda: node.outbox.stats.sent >= 1, what="the node.started message delivered")
    _, on_node = await scrape(node.server.url)
    sent = sample(on_node, "hromada_outbox_send_seconds_count", node="power-1")
    assert sent >= 1
    assert sample(on_node, "hromada_outbox_send_seconds_bucket", node="power-1", le="+Inf") == sent
    assert sample(on_node, "hromada_outbox_send_seconds_sum", node="power-1") > 0
    _, on_hub = await scrape(hub.url)
    assert sample(on_hub, "hromada_hub_ingest_seconds_count") >= 1
    assert sample(on_hub, "hromada_hub_events_stored_total") >= 1


async def test_a_refused_request_is_counted_under_its_reason(hub: HubFixture) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(hub.url + "/api/v1/ingest", json={"messages": []}) as r:
            assert r.status in (401, 403)
            reason = (await r.json())["error"]["code"]
    _, families = await scrape(hub.url)
    assert sample(families, "hromada_hub_requests_refused_total", reason=reason) == 1


def test_each_process_counts_in_its_own_registry() -> None:
    a, b = Metrics({"node": "a"}), Metrics({"node": "b"})
    a.counter("hromada_test_events_total", "Events.").inc(3)
    b.counter("hromada_test_events_total", "Events.").inc(1)
    assert a.counter("hromada_test_events_total", "Events.") is a.counter("hromada_test_events_total", "Events.")

    def read(m: Metrics) -> float:
        families = {f.name: f for f in text_string_to_metric_families(m.render())}
        return sample(families, "hromada_test_events_total")

    assert (read(a), read(b)) == (3, 1)
    assert REGISTRY.get_sample_value("hromada_test_events_total") is None
