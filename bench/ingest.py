"""Hub ingest: events per second from N concurrent signed nodes, against plain SQLite.

    .venv/bin/python bench/ingest.py [--nodes 8] [--batches 25] [--batch-size 500] [--starts 5]

1. A hub runs as its own process on loopback. N simulated nodes (in this
   process) enroll through the real API and send signed batches concurrently;
   the figure is events durably stored per second (hub SQLite, WAL,
   synchronous=FULL, one transaction per batch), checked against the hub's
   row count.
2. Baseline, same run: the same rows inserted into a plain SQLite file with
   the same table, index and durability, one transaction per batch, no HTTP,
   no signatures, no JSON. The ratio says what the network, the signatures
   and the checks cost.
3. Seconds from starting `hromada node` to the node appearing in the hub's
   registry (median of --starts runs), with the hub's URL configured and by
   mDNS.

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.config import parse_node_config  # noqa: E402
from edge.hubclient import HubClient  # noqa: E402
from edge.identity import Identity  # noqa: E402
from edge.store import Store  # noqa: E402
from edge import hubclient  # noqa: E402
from edge.timeutil import iso_utc, uuid7  # noqa: E402
from tests.conftest import free_port, hub_toml, make_code, node_toml  # noqa: E402


def make_batches(nodes: int, batches: int, size: int) -> list[list[list[dict]]]:
    return [[[{"msg_id": uuid7(), "kind": "power.reading", "priority": 2, "created_at": iso_utc(),
               "payload": {"v_in": 229.5, "v_out": 230.1, "load": 31, "charge": 97, "i": i}}
              for i in range(size)] for _ in range(batches)] for _ in range(nodes)]


async def enroll_clients(tmp: Path, hub_state: Path, url: str, n: int) -> list[HubClient]:
    clients = []
    for i in range(n):
        state = tmp / f"sim{i}"
        cfg = parse_node_config({"node": {"name": f"sim-{i}", "site": "bench", "roles": ["power"],
                                          "state_dir": str(state)},
                                 "hub": {"url": url, "enrollment_code": make_code(hub_state, site="bench", role="power")}})
        store = await Store.open(state / "node.sqlite", {"hubclient": hubclient.MIGRATIONS}, synchronous="NORMAL")
        client = HubClient(cfg, Identity.load_or_create(state), store, None, lambda: 1)
        await client.load_state()
        assert await client.enroll() == "approved"
        clients.append(client)
    return clients


async def ingest(clients: list[HubClient], data: list[list[list[dict]]]) -> float:
    async def node(client: HubClient, batches: list[list[dict]]) -> None:
        for batch in batches:
            delivery = await client.send_batch(batch)
            assert not delivery.rejected

    t0 = time.perf_counter()
    await asyncio.gather(*(node(c, d) for c, d in zip(clients, data)))
    return time.perf_counter() - t0


def baseline(path: Path, data: list[list[list[dict]]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, node_id TEXT NOT NULL, msg_id TEXT NOT NULL,"
                 " kind TEXT NOT NULL, priority INTEGER NOT NULL, created_at TEXT NOT NULL, received_at TEXT NOT NULL,"
                 " payload TEXT NOT NULL, UNIQUE (node_id, msg_id))")
    rows = [[[(f"node{n}", m["msg_id"], m["kind"], m["priority"], m["created_at"], m["created_at"],
               json.dumps(m["payload"])) for m in batch] for batch in node] for n, node in enumerate(data)]
    t0 = time.perf_counter()
    for b in range(len(rows[0])):
        for node in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR IGNORE INTO events (node_id, msg_id, kind, priority, created_at, received_at,"
                             " payload) VALUES (?, ?, ?, ?, ?, ?, ?)", node[b])
            conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def hub_count(hub_state: Path, sql: str) -> int:
    conn = sqlite3.connect(hub_state / "hub.sqlite", timeout=10)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def time_to_registry(tmp: Path, hub_state: Path, url: str, runs: int, mdns: bool) -> list[float]:
    out = []
    for i in range(runs):
        name = f"start-{'m' if mdns else 'u'}{i}"
        cfg = tmp / f"{name}.toml"
        cfg.write_text(node_toml(tmp / name, name, ["power"], "" if mdns else url,
                                 make_code(hub_state, site="bench", role="power"), discovery=mdns, site="bench"))
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "edge.cli", "node", "--config", str(cfg)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while hub_count(hub_state, f"SELECT count(*) FROM nodes WHERE name = '{name}'") == 0:
                if time.perf_counter() - t0 > 60:
                    raise RuntimeError(f"{name} did not appear")
                time.sleep(0.01)
            out.append(time.perf_counter() - t0)
        finally:
            p.terminate()
            p.wait(10)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--batches", type=int, default=25)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--starts", type=int, default=5)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmpdir:
        tmp = Path(tmpdir)
        hub_state = tmp / "hub"
        port = free_port()
        (tmp / "hub.toml").write_text(hub_toml(hub_state, port, discovery=True, max_batch=5000))
        url = f"http://127.0.0.1:{port}"
        hub = subprocess.Popen([sys.executable, "-m", "edge.cli", "hub", "--config", str(tmp / "hub.toml")],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            make_code(hub_state)  # creates key and schema before the hub serves
            deadline = time.time() + 30
            while True:
                try:
                    import urllib.request
                    urllib.request.urlopen(url + "/health", timeout=1)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
            clients = await enroll_clients(tmp, hub_state, url, args.nodes)
            data = make_batches(args.nodes, args.batches, args.batch_size)
            total = args.nodes * args.batches * args.batch_size
            elapsed = await ingest(clients, data)
            stored = hub_count(hub_state, "SELECT count(*) FROM events WHERE kind = 'power.reading'")
            assert stored == total, f"hub stored {stored} of {total}"
            for c in clients:
                await c.close()
                await c.store.close()
            base_elapsed = baseline(tmp / "baseline.sqlite", data)
            via_url = time_to_registry(tmp, hub_state, url, args.starts, mdns=False)
            via_mdns = time_to_registry(tmp, hub_state, url, args.starts, mdns=True)
        finally:
            hub.terminate()
            hub.wait(10)

    rate = total / elapsed
    base_rate = total / base_elapsed
    figures = {
        "nodes": args.nodes,
        "batch_size": args.batch_size,
        "events": total,
        "events_per_s": round(rate),
        "baseline_sqlite_events_per_s": round(base_rate),
        "ratio_vs_baseline": round(rate / base_rate, 3),
        "start_to_registry_median_s": round(statistics.median(via_url), 3),
        "start_to_registry_mdns_median_s": round(statistics.median(via_mdns), 3),
        "cores": os.cpu_count(),
    }
    print(f"hub ingest: {total} events from {args.nodes} signed nodes in {elapsed:.2f} s = {rate:,.0f} events/s "
          "(target ≥ 10,000)")
    print(f"baseline:   plain SQLite FULL, one transaction per batch: {base_rate:,.0f} events/s; "
          f"ratio {rate / base_rate:.3f}")
    print(f"start → registry: median {statistics.median(via_url):.2f} s with URL, "
          f"{statistics.median(via_mdns):.2f} s by mDNS (target < 3 s); runs {[round(x, 2) for x in via_url]} "
          f"{[round(x, 2) for x in via_mdns]}")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
