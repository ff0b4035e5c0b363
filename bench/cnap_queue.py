"""The ЦНАП queue under load: tickets issued and called per second; "call next" → calling screen.

    .venv/bin/python bench/cnap_queue.py [--tickets 2000] [--clients 16] [--windows 20] [--calls 200]

A hub, the queue node and a calling-screen node (headless, 1920×1080, no
PNGs, no voice) run in this process on loopback, enrolled for real; the
load comes from a separate process over HTTP, as operators' browsers and a
receptionist's script would. Measured:

* tickets issued per second (``--clients`` concurrent requests) and tickets
  called and served per second (``--windows`` operators each cycling call →
  start → finish as fast as answers come);
* operator "call next" → the calling screen has drawn the call: p50/p99,
  from the request leaving the operator to the screen thread's frame.

Baselines in the same run: plain SQLite (WAL, synchronous=FULL) commits of
the same rows the queue writes (one event and its outbox row per command),
one transaction each, one after another; and a bare aiohttp POST that
commits one such row, round trip.

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import os
import sys

# This file shares its name with the standard library's ``queue`` (which asyncio imports): keep its own
# directory off the import path before anything else is imported.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
sys.path.insert(0, os.path.dirname(HERE))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from edge import roles  # noqa: E402
from edge.config import load_node_config  # noqa: E402
from edge.node import Node  # noqa: E402
from kiosk.queue.demo import write_catalogue  # noqa: E402
from tests.conftest import HubFixture, free_port, node_toml, wait_until  # noqa: E402

EVENT = json.dumps({"kind": "ticket_issued", "at": "2026-03-03T08:00:00.000Z", "ticket_id": "2026-03-03/А001",
                    "prefix": "А", "number": 1, "serial": 1, "ticket_kind": "walk_in", "service_id": "consult"},
                   ensure_ascii=False)
REPORT = json.dumps({"cnap": "ЦНАП", "day": "2026-03-03", "event": json.loads(EVENT),
                     "ticket": {"id": "2026-03-03/А001", "label": "А001", "service": "consult"}}, ensure_ascii=False)


def SERVICES(windows: tuple[int, ...]) -> tuple[tuple[str, str, str, tuple[int, ...], int], ...]:
    """One service in each of the demo's four groups (four letter prefixes), every window serves them all."""
    return tuple((f"consult-{g}", f"Консультація {i}", g, windows, 5)
                 for i, g in enumerate(("passport", "residence", "social", "land"), start=1))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def open_baseline(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, day TEXT, kind TEXT, at TEXT, ticket_id TEXT, body TEXT)")
    conn.execute("CREATE TABLE outbox (msg_id TEXT PRIMARY KEY, kind TEXT, payload TEXT)")
    return conn


def commit_one(conn: sqlite3.Connection, i: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO events (day, kind, at, ticket_id, body) VALUES (?, ?, ?, ?, ?)",
                 ("2026-03-03", "ticket_issued", "2026-03-03T08:00:00.000Z", f"t{i}", EVENT))
    conn.execute("INSERT INTO outbox (msg_id, kind, payload) VALUES (?, ?, ?)", (f"m{i}-{time.time_ns()}",
                                                                                 "queue.ticket", REPORT))
    conn.execute("COMMIT")


def baseline_commits(path: Path, n: int) -> float:
    """Commits per second of the rows one queue command writes, one transaction each."""
    conn = open_baseline(path)
    start = time.perf_counter()
    for i in range(n):
        commit_one(conn, i)
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def baseline_round_trips(path: Path, n: int) -> list[float]:
    """A bare aiohttp POST that commits one such row: the floor under "call next"."""
    conn = open_baseline(path)
    counter = iter(range(10 ** 9))

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.to_thread(commit_one, conn, next(counter))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/commit", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    out = []
    async with aiohttp.ClientSession() as http:
        for _ in range(n):
            t0 = time.perf_counter()
            async with http.post(f"http://127.0.0.1:{port}/commit", json={}) as r:
                await r.read()
            out.append((time.perf_counter() - t0) * 1000)
    await runner.cleanup()
    conn.close()
    return out


async def load(spec: dict[str, Any]) -> dict[str, Any]:
    """The load process: issue tickets from many clients, then serve them from many windows."""
    headers = {"Authorization": f"Bearer {spec['token']}"}
    api = spec["url"] + "/queue/api/"
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0)) as http:
        async def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            async with http.post(api + path, json=body) as r:
                return r.status, await r.json()

        remaining = iter(range(spec["tickets"]))

        services = [s[0] for s in SERVICES(())]

        async def client() -> int:
            made = 0
            for i in remaining:
                status, answer = await post("tickets", {"service": services[i % len(services)]})
                assert status == 200, answer
                made += 1
            return made

        t0 = time.perf_counter()
        issued = sum(await asyncio.gather(*(client() for _ in range(spec["clients"]))))
        issue_s = time.perf_counter() - t0

        async def window(n: int) -> int:
            served = 0
            while True:
                status, answer = await post(f"windows/{n}/call-next", {})
                if status != 200:
                    assert answer["error"]["code"] == "no_one_waiting", answer
                    return served
                await post(f"windows/{n}/start", {})
                await post(f"windows/{n}/finish", {})
                served += 1

        t0 = time.perf_counter()
        served = sum(await asyncio.gather(*(window(n) for n in range(1, spec["windows"] + 1))))
        serve_s = time.perf_counter() - t0
    return {"issued": issued, "issue_s": issue_s, "served": served, "serve_s": serve_s}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--windows", type=int, default=20)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--load", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load:
        print(json.dumps(await load(json.loads(Path(args.load).read_text()))), flush=True)
        return
    roles.ROLE_FACTORIES.setdefault("queue", "kiosk.queue.role:create")
    roles.ROLE_FACTORIES.setdefault("queue-display", "kiosk.calling.role:create")
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as d:
        tmp = Path(d)
        hub = HubFixture(tmp)
        await hub.start()
        windows = tuple(range(1, args.windows + 1))
        catalogue = write_catalogue(tmp / "catalogue.toml", windows=windows, services=SERVICES(windows))
        # Up to 998 walk-ins a day in each of the four groups (the default is 699).
        catalogue.write_text("walk_in_numbers = [1, 998]\nbooked_numbers = [999, 999]\n" + catalogue.read_text())
        (tmp / "queue.toml").write_text(node_toml(tmp / "queue", "queue", ["queue"], hub.url,
                                                  hub.code(role="queue", site="cnap"), site="cnap",
                                                  extra=f'[roles.queue]\ncatalogue_file = "{catalogue}"\n'))
        queue = Node(load_node_config(tmp / "queue.toml"))
        await queue.start()
        (tmp / "screen.toml").write_text(node_toml(
            tmp / "screen", "screen", ["queue-display"], hub.url, hub.code(role="queue-display", site="cnap"),
            site="cnap", extra=f'[roles.queue-display]\nqueue_url = "{queue.server.url}"\naudio = "off"\n'))
        screen = Node(load_node_config(tmp / "screen.toml"))
        await screen.start()
        try:
            display = screen.roles[0]
            await wait_until(lambda: display.connected, timeout=30, what="calling screen connected")
            token = (tmp / "queue" / "staff.token").read_text().strip()
            api = queue.server.url + "/queue/api/"
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
                async def post(path: str, body: dict[str, Any]) -> Any:
                    async with http.post(api + path, json=body) as r:
                        return await r.json()

                await asyncio.gather(*(post(f"windows/{n}/open", {}) for n in windows))
                spec = tmp / "load.json"
                spec.write_text(json.dumps({"url": queue.server.url, "token": token, "tickets": args.tickets,
                                            "clients": args.clients, "windows": args.windows}))
                proc = await asyncio.create_subprocess_exec(sys.executable, __file__, "--load", str(spec),
                                                            stdout=asyncio.subprocess.PIPE)
                loaded = json.loads((await proc.stdout.readline()).decode())
                await proc.wait()
                latencies = []
                for i in range(args.calls):
                    label = (await post("tickets", {"service": "consult-passport"}))["ticket"]["label"]
                    await asyncio.sleep(0.01)  # let the screen draw the issue first: measure the call alone
                    t0 = time.monotonic()
                    await post("windows/1/call-next", {})

                    def drawn() -> float | None:
                        layout = display.screen.last_layout
                        hero = layout.by_role("hero") if layout else []
                        return display.screen.last_drawn if hero and hero[0].text.startswith(label) else None

                    latencies.append((await wait_until(drawn, timeout=10, interval=0.001) - t0) * 1000)
                    await post("windows/1/start", {})
                    await post("windows/1/finish", {})
        finally:
            await screen.stop()
            await queue.stop()
            await hub.stop()
        commits_per_s = baseline_commits(tmp / "baseline.sqlite", 2000)
        round_trips = await baseline_round_trips(tmp / "baseline-http.sqlite", args.calls)
    issue_rate = loaded["issued"] / loaded["issue_s"]
    serve_rate = loaded["served"] / loaded["serve_s"]
    figures = {
        "tickets": loaded["issued"], "clients": args.clients, "windows": args.windows, "calls": args.calls,
        "issued_per_s": round(issue_rate, 1),
        "called_and_served_per_s": round(serve_rate, 1),
        "baseline_commits_per_s": round(commits_per_s, 1),
        "issue_ratio_vs_baseline": round(issue_rate / commits_per_s, 3),
        "serve_ratio_vs_baseline": round(serve_rate / (commits_per_s / 3), 3),
        "call_to_screen_p50_ms": round(pct(latencies, 0.5), 2),
        "call_to_screen_p99_ms": round(pct(latencies, 0.99), 2),
        "baseline_http_commit_p50_ms": round(pct(round_trips, 0.5), 2),
        "baseline_http_commit_p99_ms": round(pct(round_trips, 0.99), 2),
    }
    print(f"issued: {figures['issued_per_s']} tickets/s ({loaded['issued']} from {args.clients} clients); "
          f"baseline {figures['baseline_commits_per_s']} plain FULL commits/s of the same rows "
          f"(ratio {figures['issue_ratio_vs_baseline']})")
    print(f"called → started → finished: {figures['called_and_served_per_s']} tickets/s at {args.windows} windows; "
          f"baseline {round(commits_per_s / 3, 1)}/s (three commits each; ratio {figures['serve_ratio_vs_baseline']})")
    print(f"call next → calling screen drawn: p50 {figures['call_to_screen_p50_ms']} ms, "
          f"p99 {figures['call_to_screen_p99_ms']} ms (target p99 < 100 ms); baseline HTTP POST + one FULL commit: "
          f"p50 {figures['baseline_http_commit_p50_ms']} ms, p99 {figures['baseline_http_commit_p99_ms']} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
