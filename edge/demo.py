"""``hromada demo``: the whole system on this machine, with simulated hardware.

Starts a hub and one node process per demo node on loopback, each enrolled
with its own pre-approved one-time code and finding the hub by mDNS, exactly
as boards do in the field. Prints where to look, restarts a node process that
dies, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.hub import registry
from edge.roles import load
from edge.hub.schema import MIGRATIONS
from edge.identity import Identity
from edge.store import connect, migrate, transaction


@dataclass(frozen=True, slots=True)
class DemoNode:
    """One demo board: its name, site, roles and role settings (TOML text)."""

    name: str
    site: str
    roles: tuple[str, ...]
    role_settings: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# Roles whose demo boards come with simulated hardware, by the module that makes them.
# Each module has demo_nodes(state) -> [DemoNode] and may have
# demo_links(state, hub_nodes) -> [(Ukrainian / English label, where)].
DEMO_PROVIDERS = ("voting.demo", "kiosk.queue.demo", "kiosk.terminal.demo", "power.demo", "cameras.demo")

# Roles not built yet would run as plain nodes here; every role has its demo board now.
PLAIN_NODES: tuple[DemoNode, ...] = ()


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the hub will bind it
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback only
        return json.loads(r.read())


class Demo:
    """The demo's processes and their state directory."""

    def __init__(self, state: Path, port: int) -> None:
        self.state = state.resolve()
        self.port = port if port and _port_free(port) else _free_port()
        self.logs = self.state / "logs"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.nodes: list[DemoNode] = []
        self.commands: dict[str, list[str]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> None:
        if self.state.exists():
            shutil.rmtree(self.state)
        self.logs.mkdir(parents=True, mode=0o700)
        hub_state = self.state / "hub"
        (self.state / "hub.toml").write_text(
            "[hub]\n"
            f'state_dir = "{hub_state}"\nport = {self.port}\nheartbeat_interval_s = 5\noffline_after_missed = 3\n'
            '[discovery]\ninterfaces = ["127.0.0.1"]\n', encoding="utf-8")
        fingerprint = Identity.load_or_create(hub_state, "hub.key", prefix="h").fingerprint
        db = connect(hub_state / "hub.sqlite")
        migrate(db, MIGRATIONS)
        self.nodes = [node for module in DEMO_PROVIDERS for node in load(f"{module}:demo_nodes")(self.state)]
        self.nodes += list(PLAIN_NODES)
        for node in self.nodes:
            with transaction(db) as conn:
                code, _ = registry.make_token(conn, fingerprint, node.site, ",".join(node.roles), 3600, pre_approved=True,
                                              note="demo", actor="demo")
            (self.state / f"{node.name}.toml").write_text(
                "[node]\n"
                f'name = "{node.name}"\nsite = "{node.site}"\nroles = {json.dumps(list(node.roles))}\n'
                f'state_dir = "{self.state / node.name}"\nport = 0\n'
                f'[hub]\nenrollment_code = "{code}"\n'
                '[discovery]\ninterfaces = ["127.0.0.1"]\n'
                '[gpio]\npin_factory = "mock"\n'
                + node.role_settings,
                encoding="utf-8")
        db.close()

    def spawn(self, name: str, args: list[str]) -> None:
        self.commands[name] = args
        log = open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", *args], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "SDL_VIDEODRIVER": os.environ.get("SDL_VIDEODRIVER", "dummy")})
        log.close()

    def start(self) -> None:
        self.spawn("hub", ["hub", "--config", str(self.state / "hub.toml")])
        self._wait(lambda: _get_json(self.url + "/health")["status"] == "ok", 30, "the hub")
        for node in self.nodes:
            self.spawn(node.name, ["node", "--config", str(self.state / f"{node.name}.toml")])

    def _wait(self, check: Any, timeout: float, what: str) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return True
            except Exception:
                pass
            self.supervise()
            time.sleep(0.3)
        print(f"  ! {what}: not ready after {timeout:.0f} s (see {self.logs})", file=sys.stderr)
        return False

    def hub_nodes(self) -> list[dict[str, Any]]:
        """The hub's registry, read from its database (the API needs a login)."""
        db = connect(self.state / "hub" / "hub.sqlite")
        try:
            return registry.list_nodes(db)
        finally:
            db.close()

    def make_admin(self) -> tuple[str, str, str]:
        """The demo's administrator: (name, one-time password, TOTP secret)."""
        from edge.hub import auth

        db = connect(self.state / "hub" / "hub.sqlite")
        try:
            migrate(db, MIGRATIONS)
            with transaction(db) as conn:
                password, secret = auth.add_user(conn, "demo-admin", auth.Role.ADMIN)
        finally:
            db.close()
        return "demo-admin", password, secret

    def all_online(self) -> bool:
        nodes = self.hub_nodes()
        return len(nodes) == len(self.nodes) and all(n["status"] == "approved" and n["online"] for n in nodes)

    def supervise(self) -> None:
        """Restart a process that died (as systemd would on a board)."""
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is not None and not self._stopping:
                print(f"  ! {name} exited with {code}; restarting (log: {self.logs / (name + '.log')})",
                      file=sys.stderr)
                self.spawn(name, self.commands[name])

    _stopping = False

    def stop(self) -> None:
        self._stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


def run_demo(state_dir: str, port: int) -> int:
    demo = Demo(Path(state_dir), port)
    print("hromada-edge demo: запуск / starting …", flush=True)
    demo.prepare()
    stop_requested = False

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        demo.start()
        ok = demo._wait(demo.all_online, 60, "every demo node enrolled and online")
        print()
        print(f"  Панель техніка / Dashboard:  {demo.url}/")
        print(f"  API хаба / Hub API:          {demo.url}/api/v1/openapi.json")
        print(f"  Журнали / Logs:              {demo.logs}")
        user, password, secret = demo.make_admin()
        from edge.hub.auth import totp_uri

        print(f"  Вхід / Login:                {user} · одноразовий пароль / one-time password: {password}")
        print(f"  TOTP:                        {secret}  ({totp_uri(secret, user)})")
        print(f"  Код зараз / code now:        .venv/bin/python -m edge.hub.auth_code {secret}  (або застосунок / or an app)")
        hub_nodes = demo.hub_nodes()
        for module in DEMO_PROVIDERS:
            links = getattr(importlib.import_module(module), "demo_links", None)
            for label, where in (links(demo.state, hub_nodes) if links else []):
                print(f"  {label + ':':<28} {where.replace('{hub}', demo.url)}")
        print()
        for n in demo.hub_nodes():
            state = "на зв'язку / online" if n["online"] else n["status"]
            print(f"    {n['name']:<12} {n['site']:<10} {','.join(n['roles']):<14} {state}")
        print()
        print("  Ctrl-C — зупинити / stop" + ("" if ok else "   (some nodes are not online yet; see the logs)"),
              flush=True)
        while not stop_requested:
            time.sleep(1.0)
            demo.supervise()
    except KeyboardInterrupt:
        pass
    finally:
        print("\nhromada-edge demo: зупинка / stopping …", flush=True)
        demo.stop()
    return 0
