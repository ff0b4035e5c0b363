"""Shared test fixtures: real hubs and nodes on loopback, real SQLite files.

Hubs and nodes run either in the test's own loop (fast, for protocol rules)
or as separate ``hromada`` processes (for crashes, restarts and discovery).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import pytest

from edge.config import parse_hub_config, parse_node_config
from edge.hub import registry
from edge.hub.app import Hub
from edge.node import Node
from edge.store import connect, transaction

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
                     what: str = "condition") -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def hub_toml(state_dir: Path, port: int, discovery: bool = False, **hub: Any) -> str:
    lines = ["[hub]", f'state_dir = "{state_dir}"', f"port = {port}"]
    lines += [f"{k} = {_toml(v)}" for k, v in hub.items()]
    lines += ["[discovery]", f"enabled = {_toml(discovery)}", 'interfaces = ["127.0.0.1"]']
    return "\n".join(lines) + "\n"


def node_toml(state_dir: Path, name: str, roles: list[str], hub_url: str = "", code: str = "",
              discovery: bool = False, site: str = "rada", extra: str = "", **outbox: Any) -> str:
    lines = ["[node]", f'name = "{name}"', f'site = "{site}"', f"roles = {_toml(roles)}",
             f'state_dir = "{state_dir}"', "port = 0",
             "[hub]", f'url = "{hub_url}"', f'enrollment_code = "{code}"',
             "[discovery]", f"enabled = {_toml(discovery)}", 'interfaces = ["127.0.0.1"]']
    if outbox:
        lines.append("[outbox]")
        lines += [f"{k} = {_toml(v)}" for k, v in outbox.items()]
    if not extra:
        extra = minimal_role_settings(roles, state_dir.parent / f"{name}-settings")
    return "\n".join(lines) + "\n" + extra


def minimal_role_settings(roles: list[str], where: Path) -> str:
    """The least configuration that lets each role start (for tests about the node, not the role)."""
    out = []
    if "hall" in roles:
        from tests.voting_fixtures import write_council

        where.mkdir(parents=True, exist_ok=True)
        council = write_council(where / "council.toml", seats=5, deputies=4, consoles={"consoles-a": range(1, 3)})
        out.append(f'[roles.hall]\ncouncil_file = "{council}"')
    if "console" in roles:
        out.append('[roles.console]\nhall_url = "http://127.0.0.1:9"\n[[roles.console.seats]]\nseat = "1"\n'
                   "za = 4\nproty = 5\nutrymavsia = 6\npresence = 7\nled_za = 8\nled_proty = 9\n"
                   "led_utrymavsia = 10\nled_status = 11")
    if "hall-display" in roles:
        out.append('[roles.hall-display]\nhall_url = "http://127.0.0.1:9"\nfullscreen = false\nwidth = 640\nheight = 360')
    if "queue" in roles:
        from kiosk.queue.demo import write_catalogue

        catalogue = write_catalogue(where / "catalogue.toml")
        out.append(f'[roles.queue]\ncatalogue_file = "{catalogue}"')
    if "queue-display" in roles:
        out.append('[roles.queue-display]\nqueue_url = "http://127.0.0.1:9"\nfullscreen = false\nwidth = 640\n'
                   'height = 360\naudio = "off"')
    if "kiosk" in roles:
        out.append('[roles.kiosk]\nqueue_url = "http://127.0.0.1:9"\nprinter = "sim"\nfullscreen = false\n'
                   'width = 1280\nheight = 720\npanel_width_mm = 344.0\npanel_height_mm = 194.0\naudio = "off"')
    if "camera" in roles:
        # One camera that is not there: the relay keeps retrying it, quietly, as it would in the field.
        out.append('[roles.camera]\n[[roles.camera.cameras]]\nid = "cam1"\nname = "Камера 1"\n'
                   'url = "http://127.0.0.1:9/video.mjpg"')
    if "power" in roles:
        # The simulated UPS on a pty, on line: no alerts; no NUT server (one port per machine).
        out.append('[roles.power]\nnut_server = false\n[roles.power.ups]\ndriver = "q1"\nurl = "sim"')
    return "\n".join(out) + "\n" if out else ""


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def make_code(hub_state: Path, site: str = "rada", role: str = "hall", pre_approved: bool = True,
              ttl: float = 3600.0) -> str:
    """An enrollment code made straight in the hub's database, as `hromada hub token` does."""
    from edge.hub.schema import MIGRATIONS
    from edge.identity import Identity
    from edge.store import migrate

    hub_state.mkdir(parents=True, exist_ok=True)
    fp = Identity.load_or_create(hub_state, "hub.key", prefix="h").fingerprint
    db = connect(hub_state / "hub.sqlite")
    migrate(db, MIGRATIONS)
    with transaction(db) as conn:
        code, _ = registry.make_token(conn, fp, site, role, ttl, pre_approved=pre_approved)
    db.close()
    return str(code)


def hub_query(hub_state: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the hub's database directly: what is stored is what counts."""
    conn = sqlite3.connect(hub_state / "hub.sqlite", timeout=10)
    try:
        rows = conn.execute(sql, args).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


class HubFixture:
    """A hub in this test's loop, with helpers to enroll nodes against it."""

    def __init__(self, tmp: Path, **hub: Any) -> None:
        self.state = tmp / "hub"
        self.state.mkdir(parents=True, exist_ok=True)
        self.config_path = tmp / "hub.toml"
        self.port = free_port()
        self.settings = {"heartbeat_interval_s": 0.5, **hub}
        self.config_path.write_text(hub_toml(self.state, self.port, **self.settings))
        self.hub: Hub | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Hub:
        from edge.config import load_hub_config

        self.hub = Hub(load_hub_config(self.config_path))
        await self.hub.start()
        return self.hub

    async def stop(self) -> None:
        if self.hub is not None:
            await self.hub.stop()
            self.hub = None

    def code(self, **kw: Any) -> str:
        return make_code(self.state, **kw)

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return hub_query(self.state, sql, *args)


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubFixture]:
    h = HubFixture(tmp_path)
    await h.start()
    yield h
    await h.stop()


@pytest.fixture
async def node_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Node]]]:
    nodes: list[Node] = []

    async def start(name: str, hub_url: str, code: str, roles: list[str] | None = None, **kw: Any) -> Node:
        path = tmp_path / f"{name}.toml"
        path.write_text(node_toml(tmp_path / name, name, roles or ["hall"], hub_url, code, **kw))
        from edge.config import load_node_config

        node = Node(load_node_config(path))
        await node.start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        await node.stop()


class Proc:
    """A ``hromada`` command in its own process, its output kept in a log file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log = log
        self.env = env
        self.p: subprocess.Popen[bytes] | None = None

    def start(self) -> "Proc":
        out = open(self.log, "ab")
        self.p = subprocess.Popen([sys.executable, "-m", "edge.cli", *self.args], stdout=out, stderr=out,
                                  cwd=ROOT, env={**os.environ, **(self.env or {})}, start_new_session=True)
        out.close()
        return self

    def signal(self, sig: int) -> None:
        assert self.p is not None
        self.p.send_signal(sig)

    def kill(self) -> None:
        if self.p is not None and self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait(10)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.p is None:
            return None
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        return self.p.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def procs() -> Iterator[Callable[..., Proc]]:
    started: list[Proc] = []

    def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
        p = Proc(args, log, env).start()
        started.append(p)
        return p

    yield spawn
    for p in started:
        if p.p is not None and p.p.poll() is None:
            p.signal(signal.SIGCONT)
        p.stop()


async def http_json(method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.request(method, url, **kw) as r:
            try:
                return r.status, await r.json(content_type=None)
            except Exception:
                return r.status, await r.text()


async def healthy(url: str) -> bool:
    try:
        status, _ = await http_json("GET", url + "/health", timeout=aiohttp.ClientTimeout(total=1))
        return status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return False


@pytest.fixture
async def browser_page() -> AsyncIterator[Any]:
    """A page in Debian's Chromium driven by Playwright (no browser download)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        yield page
        await browser.close()
