"""120 consoles press at the same moment: press → committed, press → screen.

    .venv/bin/python bench/voting.py [--consoles 120] [--rounds 5]

A hub and a hall run in this process on loopback; 120 console nodes, each
enrolled at the hub for real, connect to the hall over sealed WebSockets and
press «За» together, once per round. Measured at the console: press → ack
(the hall acknowledges only after the ballot is committed, synchronous=FULL).
Measured at a screen client on the hall's live feed: press → the snapshot
that counts all of them. Baseline in the same run: 120 plain SQLite FULL
commits of one row each, one after another.

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from edge.config import load_node_config  # noqa: E402
from edge.node import Node  # noqa: E402
from tests.conftest import HubFixture, node_toml, wait_until  # noqa: E402
from tests.test_hall import RawConsole  # noqa: E402
from tests.voting_fixtures import write_council  # noqa: E402
from voting import protocol  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def baseline(path: Path, n: int) -> list[float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    out = []
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (json.dumps({"kind": "ballot", "i": i}),))
        conn.execute("COMMIT")
        out.append(time.perf_counter() - start)
    conn.close()
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--consoles", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        await worker(Path(args.worker))
        return
    n = args.consoles
    with tempfile.TemporaryDirectory(prefix="bench-voting-") as d:
        tmp = Path(d)
        hub = HubFixture(tmp)
        await hub.start()
        council = write_council(tmp / "council.toml", seats=n, deputies=n,
                                consoles={f"c{i:03d}": range(i, i + 1) for i in range(1, n + 1)})
        (tmp / "hall.toml").write_text(node_toml(tmp / "hall", "hall", ["hall"], hub.url, hub.code(role="hall"),
                                                 extra=f'[roles.hall]\ncouncil_file = "{council}"\n'))
        hall = Node(load_node_config(tmp / "hall.toml"))
        await hall.start()
        proc = None
        try:
            await wait_until(hall.hub.connected.is_set, what="hall")
            for i in range(1, n + 1):
                c = RawConsole(f"c{i:03d}", tmp)
                await c.enroll(hub)
                await c.close()
            await wait_until(lambda: len(hall.hub.roster) == n + 1, timeout=30, what="roster")
            spec = tmp / "spec.json"
            spec.write_text(json.dumps({"hall_url": hall.server.url, "hall_id": hall.identity.id,
                                        "hall_key": hall.identity.public_key_b64,
                                        "consoles": [[str(tmp / f"c{i:03d}"), str(i)] for i in range(1, n + 1)]}))
            # The consoles run in a process of their own, as on their own boards.
            proc = await asyncio.create_subprocess_exec(sys.executable, __file__, "--worker", str(spec),
                                                        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)

            async def ask(line: str) -> Any:
                proc.stdin.write((line + "\n").encode())
                await proc.stdin.drain()
                return json.loads(await proc.stdout.readline())

            assert (await ask("ready"))["connected"] == n
            token = (tmp / "hall" / "secretary.token").read_text().strip()
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
                    async with http.post(hall.server.url + "/hall/api/" + path, json=body) as r:
                        return await r.json()

                started = await post("sitting", {"session": 1})
                assert started.get("ok"), started
                assert all(k == "registered" for k in (await ask("press -"))["kinds"])
                ack_ms: list[float] = []
                screen_ms: list[float] = []
                all_ms: list[float] = []
                async with http.ws_connect(hall.server.url.replace("http", "ws") + protocol.LIVE_PATH) as live:
                    for r in range(args.rounds):
                        answer = await post("votes", {"question": {"number": str(r + 1), "title": f"Питання {r + 1}"}})
                        assert "state" in answer, answer
                        uid = answer["state"]["vote"]["uid"]
                        await asyncio.sleep(0.3)
                        while True:  # drain what came before the presses
                            try:
                                await live.receive(timeout=0.05)
                            except asyncio.TimeoutError:
                                break
                        t0 = time.time()
                        screen_task = asyncio.create_task(_screen_until(live, n, t0))
                        result = await ask(f"press {uid}")
                        assert all(k == "ballot" for k in result["kinds"]), result
                        # Both sides read the same wall clock (one machine); the press time is the worker's.
                        ack_ms += result["ack_ms"]
                        all_ms.append(max(result["ack_ms"]))
                        screen_ms.append((await screen_task) * 1000 - (result["t0"] - t0) * 1000)
                        await post(f"votes/{uid}/close", {})
        finally:
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
            await hall.stop()
            await hub.stop()
        base = baseline(tmp / "baseline.sqlite", n)
    base_each = [b - a for a, b in zip([0.0] + base, base)]
    figures = {
        "consoles": n, "rounds": args.rounds,
        "press_to_committed_p50_ms": round(pct(ack_ms, 0.5), 2),
        "press_to_committed_p99_ms": round(pct(ack_ms, 0.99), 2),
        "all_committed_median_ms": round(statistics.median(all_ms), 2),
        "press_to_screen_all_median_ms": round(statistics.median(screen_ms), 2),
        "baseline_commit_p50_ms": round(pct(base_each, 0.5) * 1000, 3),
        "baseline_commit_p99_ms": round(pct(base_each, 0.99) * 1000, 3),
        "baseline_all_sequential_ms": round(base[-1] * 1000, 2),
        "ratio_vs_baseline": round(statistics.median(all_ms) / (base[-1] * 1000), 3),
    }
    print(f"{n} consoles × {args.rounds} rounds: press → committed (ack) p50 {figures['press_to_committed_p50_ms']} ms, "
          f"p99 {figures['press_to_committed_p99_ms']} ms (target < 50 ms)")
    print(f"all {n} committed: median {figures['all_committed_median_ms']} ms (target < 250 ms); "
          f"all {n} on the screen feed: median {figures['press_to_screen_all_median_ms']} ms")
    print(f"baseline: {n} plain SQLite FULL commits one by one: {figures['baseline_all_sequential_ms']} ms "
          f"(p50 {figures['baseline_commit_p50_ms']} ms each); ratio all-committed / baseline "
          f"{figures['ratio_vs_baseline']}")
    print(json.dumps(figures))


async def _screen_until(live: aiohttp.ClientWebSocketResponse, n: int, t0: float) -> float:
    while True:
        msg = await live.receive(timeout=30)
        snap = json.loads(msg.data)
        if snap.get("vote") and snap["vote"]["voted"] >= n:
            return time.time() - t0


async def worker(spec_path: Path) -> None:
    """The consoles' process: connect, then press together when told, and report each ack's latency."""
    from edge.identity import Identity
    from edge.peers import PeerClient

    spec = json.loads(spec_path.read_text())
    links: list[tuple[PeerClient, str, dict[str, asyncio.Future[dict[str, Any]]]]] = []
    tasks = []
    for state_dir, seat in spec["consoles"]:
        waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

        async def on_message(m: dict[str, Any], waiting: dict = waiting) -> None:
            fut = waiting.pop(str(m.get("id")), None)
            if fut is not None and not fut.done():
                fut.set_result(m)

        async def url_of() -> str:
            return spec["hall_url"]

        link = PeerClient(Identity.load_or_create(Path(state_dir)), protocol.CONSOLE_PATH, url_of,
                          lambda nid: spec["hall_key"] if nid == spec["hall_id"] else None, on_message)
        tasks.append(asyncio.create_task(link.run()))
        links.append((link, seat, waiting))
    await asyncio.gather(*(link.connected.wait() for link, _, _ in links))
    for link, seat, _ in links:
        await link.send({"type": "hello", "seats": [seat]})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    import uuid

    while line := (await reader.readline()).decode().strip():
        if line == "ready":
            print(json.dumps({"connected": sum(link.connected.is_set() for link, _, _ in links)}), flush=True)
            continue
        uid = line.split(" ", 1)[1]
        futures = []
        for link, seat, waiting in links:
            msg_id = str(uuid.uuid4())
            waiting[msg_id] = loop.create_future()
            futures.append(waiting[msg_id])
        t0 = time.time()
        sent = [link.send({"type": "press", "id": mid, "seat": seat, "choice": "За", "presence": True,
                           "vote": None if uid == "-" else uid})
                for (link, seat, waiting), mid in zip(links, [next(iter(w)) for _, _, w in links])]
        answers = await asyncio.gather(*(_timed(f, t0) for f in futures), *sent)
        acks = answers[:len(futures)]
        print(json.dumps({"t0": t0, "ack_ms": [a[0] for a in acks], "kinds": [a[1].get("kind", a[1].get("code"))
                                                                            for a in acks]}), flush=True)
    for t in tasks:
        t.cancel()


async def _timed(fut: asyncio.Future[dict[str, Any]], t0: float) -> tuple[float, dict[str, Any]]:
    m = await fut
    return (time.time() - t0) * 1000, m


if __name__ == "__main__":
    asyncio.run(main())
