"""``hromada provision``: from a fresh board to an enrolled, supervised node.

Provisioning is a *plan* of small steps (a directory, a file with its mode,
a key, an enrollment, a systemd unit and its drop-ins, an enable link), each
compared with what is already there: a second run with the same answers
changes nothing and says so; ``--dry-run`` prints the plan and does nothing.
``--root DIR`` writes under DIR instead of ``/`` (images, tests) and then
leaves the live system (users, systemctl) alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from edge.config import ConfigError, parse_node_config
from edge.roles import NODE_ROLES

SYSTEMD_DIR = Path(__file__).resolve().parent.parent / "systemd"
DEFAULT_VENV = "/opt/hromada/venv"

# Which device drop-ins each role needs (systemd/dropins/<name>.conf).
ROLE_DEVICES: dict[str, tuple[str, ...]] = {
    "hall": (),
    "console": ("gpio", "serial"),
    "hall-display": ("screen",),
    "queue": (),
    "kiosk": ("screen", "serial", "audio"),
    "queue-display": ("screen", "audio"),
    "camera": ("video",),
    "power": ("gpio", "serial", "spi"),
}

TEXTS = {
    "uk": {
        "roles": "Ролі цієї плати через кому ({known})",
        "name": "Назва вузла (латиницею, напр. consoles-3)",
        "site": "Майданчик (напр. rada, cnap)",
        "hub_url": "Адреса хаба (порожньо — знайти через mDNS)",
        "code": "Код реєстрації від адміністратора хаба (HRM1-…)",
        "address": "IP-адреса цієї плати в локальній мережі",
        "nothing": "Нічого не змінено: плата вже налаштована так.",
        "done": "Готово: {n} змін.",
        "dry": "Пробний прогін: нічого не записано.",
        "hardware": "Знайдено: послідовні порти {serial}; відео {video}; GPIO {gpio}",
        "missing": "Бракує відповідей: {keys} (прапорці, файл відповідей або запуск у терміналі)",
    },
    "en": {
        "roles": "Roles of this board, comma separated ({known})",
        "name": "Node name (latin letters, e.g. consoles-3)",
        "site": "Site (e.g. rada, cnap)",
        "hub_url": "Hub URL (empty: find it by mDNS)",
        "code": "Enrollment code from the hub's administrator (HRM1-…)",
        "address": "This board's IP address on the LAN",
        "nothing": "Nothing changed: the board is already set up this way.",
        "done": "Done: {n} changes.",
        "dry": "Dry run: nothing written.",
        "hardware": "Found: serial ports {serial}; video {video}; GPIO {gpio}",
        "missing": "Missing answers: {keys} (flags, an answers file, or run it in a terminal)",
    },
}


@dataclass
class Answers:
    """Everything provisioning needs to know; from flags, an answers file or questions."""

    roles: tuple[str, ...] = ()
    name: str = ""
    site: str = ""
    hub_url: str = ""
    enrollment_code: str = ""
    address: str = ""
    port: int = 8700
    pin_factory: str = "lgpio"
    state_dir: str = "/var/lib/hromada"
    venv: str = DEFAULT_VENV
    role_settings: str = ""  # TOML text of [roles.*] tables, kept as given
    enroll: bool = True


@dataclass
class Step:
    """One thing provisioning makes sure of."""

    what: str
    check: Callable[[], bool]          # True when already as wanted
    do: Callable[[], None]
    live_only: bool = False            # touches the running system: skipped under --root

    def describe(self) -> str:
        return self.what


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def add(self, what: str, check: Callable[[], bool], do: Callable[[], None], live_only: bool = False) -> None:
        self.steps.append(Step(what, check, do, live_only))


def node_toml(a: Answers) -> str:
    """The node's configuration file, as provisioning writes it."""
    interfaces = f'["{a.address}"]' if a.address else "[]"
    lines = [
        "# Written by `hromada provision`; every key is in docs/configuration.md.",
        "[node]", f'name = "{a.name}"', f'site = "{a.site}"', f"roles = {json.dumps(list(a.roles))}",
        f'state_dir = "{a.state_dir}"', f'listen = "{a.address or "127.0.0.1"}"', f"port = {a.port}",
        "", "[hub]", f'url = "{a.hub_url}"', 'enrollment_code_file = "/etc/hromada/enrollment-code"',
        "", "[discovery]", f"interfaces = {interfaces}",
        "", "[gpio]", f'pin_factory = "{a.pin_factory}"', "",
    ]
    return "\n".join(lines) + (a.role_settings.strip() + "\n" if a.role_settings.strip() else "")


def unit_text(name: str, venv: str) -> str:
    return (SYSTEMD_DIR / name).read_text(encoding="utf-8").replace(DEFAULT_VENV, venv.rstrip("/"))


def dropins_for(roles: tuple[str, ...]) -> list[str]:
    return sorted({d for r in roles for d in ROLE_DEVICES.get(r, ())})


def _write_step(plan: Plan, path: Path, text: str, mode: int) -> None:
    def same() -> bool:
        return path.exists() and path.read_text(encoding="utf-8") == text and (path.stat().st_mode & 0o777) == mode

    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)

    plan.add(f"file {path} (mode {mode:04o})", same, write)


def _dir_step(plan: Plan, path: Path, mode: int) -> None:
    def make() -> None:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mode)

    plan.add(f"directory {path} (mode {mode:04o})",
             lambda: path.is_dir() and (path.stat().st_mode & 0o777) == mode, make)


def _link_step(plan: Plan, link: Path, target: str) -> None:
    def make() -> None:
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)

    plan.add(f"enable {link.name} ({link} → {target})",
             lambda: link.is_symlink() and os.readlink(link) == target, make)


def enrolled(state_dir: Path) -> str | None:
    """The node's enrollment status from its database, if it has one."""
    db = state_dir / "node.sqlite"
    if not db.exists():
        return None
    import sqlite3

    try:
        row = sqlite3.connect(db).execute("SELECT value FROM node_state WHERE key = 'status'").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def build_plan(a: Answers, root: Path, live: bool) -> Plan:
    """Every step that makes the board match the answers."""
    plan = Plan()
    etc = root / "etc" / "hromada"
    state = root / a.state_dir.lstrip("/") if str(root) != "/" else Path(a.state_dir)
    units = root / "etc" / "systemd" / "system"
    text = node_toml(a)
    parse_node_config(tomllib.loads(text), etc / "node.toml")  # refuse a bad answer before writing anything
    _dir_step(plan, etc, 0o755)
    _write_step(plan, etc / "node.toml", text, 0o640)
    _dir_step(plan, state, 0o700)
    plan.add(f"key {state / 'node.key'} (mode 0600)", lambda: (state / "node.key").exists(),
             lambda: _make_key(state))
    if a.enrollment_code and enrolled(state) not in ("approved", "pending"):
        _write_step(plan, etc / "enrollment-code", a.enrollment_code.strip() + "\n", 0o600)
    if a.enroll and a.enrollment_code:
        plan.add("enroll with the hub", lambda: enrolled(state) == "approved",
                 lambda: _enroll(a, etc, state))
    _write_step(plan, units / "hromada-node.service", unit_text("hromada-node.service", a.venv), 0o644)
    for dropin in dropins_for(a.roles):
        _write_step(plan, units / "hromada-node.service.d" / f"{dropin}.conf",
                    (SYSTEMD_DIR / "dropins" / f"{dropin}.conf").read_text(encoding="utf-8"), 0o644)
    _link_step(plan, units / "multi-user.target.wants" / "hromada-node.service",
               "/etc/systemd/system/hromada-node.service")
    if live:
        plan.add("system user hromada", _user_exists, _add_user, live_only=True)
        plan.add(f"owner hromada of {state}", lambda: _owned(state), lambda: _chown(state), live_only=True)
        plan.add("systemctl daemon-reload && enable --now hromada-node", _service_active,
                 _start_service, live_only=True)
    return plan


def _make_key(state: Path) -> None:
    from edge.identity import Identity

    Identity.load_or_create(state)


def _enroll(a: Answers, etc: Path, state: Path) -> None:
    """Enroll now, with the configuration just written (but the state directory under the root)."""
    from edge import hubclient
    from edge.hubclient import HubClient
    from edge.identity import Identity
    from edge.store import Store

    text = node_toml(replace(a, state_dir=str(state))).replace(
        'enrollment_code_file = "/etc/hromada/enrollment-code"', f'enrollment_code = "{a.enrollment_code.strip()}"')
    cfg = parse_node_config(tomllib.loads(text), etc / "node.toml")

    async def run() -> str:
        store = await Store.open(state / "node.sqlite", {"hubclient": hubclient.MIGRATIONS})
        client = HubClient(cfg, Identity.load_or_create(state), store, None, lambda: a.port)
        try:
            await client.load_state()
            if not client.hub_url:
                from edge.discovery import Discovery

                client.discovery = Discovery([a.address] if a.address else None)
                await client.discovery.start()
                try:
                    await asyncio.wait_for(client.find_hub(), 30)
                finally:
                    await client.discovery.close()
            return await client.enroll()
        finally:
            await client.close()
            await store.close()

    status = asyncio.run(run())
    code_file = etc / "enrollment-code"
    if status in ("approved", "pending") and code_file.exists():
        code_file.unlink()  # single use: it has done its work
    print(f"  enrollment: {status}")


def _user_exists() -> bool:
    try:
        pwd.getpwnam("hromada")
        return True
    except KeyError:
        return False


def _add_user() -> None:
    subprocess.run(["useradd", "--system", "--home-dir", "/var/lib/hromada", "--shell", "/usr/sbin/nologin",
                    "hromada"], check=True)


def _owned(path: Path) -> bool:
    try:
        return path.stat().st_uid == pwd.getpwnam("hromada").pw_uid
    except KeyError:
        return False


def _chown(path: Path) -> None:
    shutil.chown(path, "hromada", "hromada")
    for child in path.iterdir():
        shutil.chown(child, "hromada", "hromada")


def _service_active() -> bool:
    return subprocess.run(["systemctl", "is-active", "--quiet", "hromada-node"]).returncode == 0


def _start_service() -> None:
    subprocess.run(["systemctl", "daemon-reload"], check=True)
    subprocess.run(["systemctl", "enable", "--now", "hromada-node"], check=True)


def run_plan(plan: Plan, dry_run: bool, lang: str, out: Callable[[str], None] = print) -> int:
    """Carry out the steps not yet done; return how many changed."""
    t = TEXTS[lang]
    changed = 0
    for step in plan.steps:
        if step.check():
            out(f"  = {step.describe()}")
            continue
        changed += 1
        out(f"  + {step.describe()}")
        if not dry_run:
            step.do()
    out(t["dry"] if dry_run else (t["nothing"] if changed == 0 else t["done"].format(n=changed)))
    return changed


def load_answers(path: Path) -> Answers:
    """An answers file (TOML) for provisioning many boards alike; [roles.*] tables are kept as they are."""
    from edge.config import read_toml

    data = read_toml(path)
    roles_tables = data.pop("roles_settings", None)
    known = set(Answers.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise ConfigError(path, key, f"unknown key; known: {', '.join(sorted(known))}")
    a = Answers(**{k: (tuple(v) if k == "roles" else v) for k, v in data.items()})
    if roles_tables is not None:
        a.role_settings = str(roles_tables)
    return a


def ask_missing(a: Answers, lang: str, ask: Callable[[str], str] = input) -> Answers:
    """Ask, in Ukrainian (or English), for whatever the flags and the answers file left out."""
    t = TEXTS[lang]
    if not a.roles:
        a.roles = tuple(r.strip() for r in ask(t["roles"].format(known=", ".join(NODE_ROLES)) + ": ").split(",")
                        if r.strip())
    if not a.name:
        a.name = ask(t["name"] + ": ").strip()
    if not a.site:
        a.site = ask(t["site"] + ": ").strip()
    if not a.address:
        from edge.discovery import lan_addresses

        found = lan_addresses()
        a.address = ask(f"{t['address']} [{found[0] if found else ''}]: ").strip() or (found[0] if found else "")
    if not a.hub_url:
        a.hub_url = ask(t["hub_url"] + ": ").strip()
    if not a.enrollment_code:
        a.enrollment_code = ask(t["code"] + ": ").strip()
    return a
