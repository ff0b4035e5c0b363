"""``hromada doctor``: is this node healthy, and if not, what to do about it.

Each check says what it found and, when something is wrong, how to fix it,
in Ukrainian (or English with ``--lang en``). The exit code is 1 when any
check fails, so scripts and monitoring can use it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edge.config import ConfigError, NodeConfig, load_node_config


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    what: str          # what was checked and found
    fix: str = ""      # how to make it right (empty when ok)
    skipped: bool = False


Check = Callable[[NodeConfig], list[Finding]]

T = {
    "uk": {
        "config_ok": "Налаштування {path} правильні", "config_bad": "Налаштування відхилено: {err}",
        "config_fix": "Виправте ключ у файлі (опис: docs/configuration.md)",
        "state_missing": "Немає каталогу стану {path}", "state_fix": "Запустіть `hromada provision` ще раз",
        "state_mode": "Каталог стану {path} має права {mode:o}, а має бути 700", "chmod": "chmod 700 {path}",
        "key_missing": "Немає ключа вузла {path}", "key_mode": "Ключ {path} мають читати інші (права {mode:o})",
        "key_fix": "chmod 600 {path}", "state_ok": "Каталог стану й ключ на місці, права правильні",
        "hub_ok": "Хаб {url} відповідає (зсув годинника {offset:+.1f} с)", "hub_down": "Хаб {url} не відповідає: {err}",
        "hub_fix": "Перевірте мережу й що хаб працює (`systemctl status hromada-hub` на хабі)",
        "hub_unknown": "Адреса хаба невідома (ні в налаштуваннях, ні з минулого запуску)",
        "hub_unknown_fix": "Вкажіть [hub] url або переконайтесь, що mDNS проходить мережею",
        "enrolled": "Вузол зареєстровано на хабі ({status})", "not_enrolled": "Вузол не зареєстровано ({status})",
        "enroll_fix": "Візьміть код у адміністратора (`hromada hub token`) і запустіть `hromada provision --code …`",
        "pending_fix": "Попросіть адміністратора схвалити вузол на панелі (Реєстрація вузлів)",
        "clock_ok": "Годинник синхронізовано", "clock_bad": "Годинник відстає/поспішає на {offset:+.1f} с від хаба",
        "clock_fix": "Увімкніть синхронізацію часу: `timedatectl set-ntp true`",
        "disk_ok": "Вільне місце: {free} МБ", "disk_bad": "Мало місця на диску: {free} МБ",
        "disk_fix": "Звільніть місце (старі журнали: `journalctl --vacuum-size=100M`)",
        "dev_ok": "Пристрій {path} є і доступний", "dev_missing": "Немає пристрою {path} ({why})",
        "dev_fix": "Перевірте кабель/підключення і `ls -l /dev/serial/by-id/`",
        "dev_perm": "Пристрій {path} є, але недоступний для цього користувача",
        "dev_perm_fix": "Додайте користувача до групи пристрою (напр. dialout, gpio) або перевірте drop-in systemd",
        "svc_ok": "Служба hromada-node працює", "svc_bad": "Служба hromada-node не працює ({state})",
        "svc_fix": "`systemctl status hromada-node` і `journalctl -u hromada-node -n 50`",
        "svc_skip": "systemd тут не працює: службу не перевірено",
        "summary_ok": "Усе гаразд.", "summary_bad": "Проблем: {n}.",
    },
    "en": {
        "config_ok": "Configuration {path} is valid", "config_bad": "Configuration refused: {err}",
        "config_fix": "Fix the key in the file (reference: docs/configuration.md)",
        "state_missing": "No state directory {path}", "state_fix": "Run `hromada provision` again",
        "state_mode": "State directory {path} has mode {mode:o}, should be 700", "chmod": "chmod 700 {path}",
        "key_missing": "No node key {path}", "key_mode": "Key {path} is readable by others (mode {mode:o})",
        "key_fix": "chmod 600 {path}", "state_ok": "State directory and key present with the right modes",
        "hub_ok": "Hub {url} answers (clock offset {offset:+.1f} s)", "hub_down": "Hub {url} does not answer: {err}",
        "hub_fix": "Check the network and that the hub runs (`systemctl status hromada-hub` on the hub)",
        "hub_unknown": "Hub address unknown (not configured, not remembered)",
        "hub_unknown_fix": "Set [hub] url or make sure mDNS crosses the network",
        "enrolled": "Node enrolled at the hub ({status})", "not_enrolled": "Node not enrolled ({status})",
        "enroll_fix": "Get a code from the administrator (`hromada hub token`) and run `hromada provision --code …`",
        "pending_fix": "Ask the administrator to approve the node on the dashboard (Enrollment)",
        "clock_ok": "Clock synchronised", "clock_bad": "Clock is {offset:+.1f} s off the hub's",
        "clock_fix": "Turn on time sync: `timedatectl set-ntp true`",
        "disk_ok": "Free space: {free} MB", "disk_bad": "Low disk space: {free} MB",
        "disk_fix": "Free some space (old logs: `journalctl --vacuum-size=100M`)",
        "dev_ok": "Device {path} present and accessible", "dev_missing": "Device {path} missing ({why})",
        "dev_fix": "Check the cable/connection and `ls -l /dev/serial/by-id/`",
        "dev_perm": "Device {path} present but not accessible to this user",
        "dev_perm_fix": "Add the user to the device's group (e.g. dialout, gpio) or check the systemd drop-in",
        "svc_ok": "Service hromada-node is running", "svc_bad": "Service hromada-node is not running ({state})",
        "svc_fix": "`systemctl status hromada-node` and `journalctl -u hromada-node -n 50`",
        "svc_skip": "systemd is not running here: service not checked",
        "summary_ok": "All good.", "summary_bad": "{n} problem(s).",
    },
}


def _node_state(cfg: NodeConfig) -> dict[str, str]:
    db = cfg.state_dir / "node.sqlite"
    if not db.exists():
        return {}
    try:
        return dict(sqlite3.connect(db).execute("SELECT key, value FROM node_state").fetchall())
    except sqlite3.Error:
        return {}


def check_state(cfg: NodeConfig, t: dict[str, str]) -> list[Finding]:
    state, key = cfg.state_dir, cfg.state_dir / "node.key"
    if not state.is_dir():
        return [Finding(False, t["state_missing"].format(path=state), t["state_fix"])]
    out = []
    mode = stat.S_IMODE(state.stat().st_mode)
    if mode & 0o077:
        out.append(Finding(False, t["state_mode"].format(path=state, mode=mode), t["chmod"].format(path=state)))
    if not key.exists():
        out.append(Finding(False, t["key_missing"].format(path=key), t["state_fix"]))
    elif stat.S_IMODE(key.stat().st_mode) & 0o077:
        out.append(Finding(False, t["key_mode"].format(path=key, mode=stat.S_IMODE(key.stat().st_mode)),
                           t["key_fix"].format(path=key)))
    return out or [Finding(True, t["state_ok"])]


def check_hub(cfg: NodeConfig, t: dict[str, str]) -> list[Finding]:
    state = _node_state(cfg)
    url = cfg.hub.url or state.get("hub_url", "")
    status = state.get("status", "—")
    out = []
    if status == "approved":
        out.append(Finding(True, t["enrolled"].format(status=status)))
    else:
        out.append(Finding(False, t["not_enrolled"].format(status=status),
                           t["pending_fix"] if status == "pending" else t["enroll_fix"]))
    if not url:
        return out + [Finding(False, t["hub_unknown"], t["hub_unknown_fix"])]
    try:
        before = time.time()
        with urllib.request.urlopen(url.rstrip("/") + "/api/v1/time", timeout=5) as r:  # noqa: S310
            hub_time = float(json.loads(r.read())["time"])
        offset = hub_time - (before + time.time()) / 2
    except Exception as exc:  # any failure to reach it is the finding
        return out + [Finding(False, t["hub_down"].format(url=url, err=exc), t["hub_fix"])]
    out.append(Finding(True, t["hub_ok"].format(url=url, offset=offset)))
    if abs(offset) > 5:
        out.append(Finding(False, t["clock_bad"].format(offset=offset), t["clock_fix"]))
    else:
        out.append(Finding(True, t["clock_ok"]))
    return out


def devices_of(cfg: NodeConfig) -> list[tuple[str, str]]:
    """(device path, why it is needed) for the devices the configuration names."""
    out: list[tuple[str, str]] = []
    if cfg.gpio.pin_factory in ("lgpio", "native", "rpigpio") and any(
            r in cfg.node.roles for r in ("console", "power")):
        out.append(("/dev/gpiochip0", "GPIO"))

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")
        elif isinstance(value, str) and value.startswith("/dev/"):
            out.append((value, where))

    walk(cfg.roles, "roles")
    return out


def check_devices(cfg: NodeConfig, t: dict[str, str]) -> list[Finding]:
    out = []
    for path, why in devices_of(cfg):
        if not os.path.exists(path):
            out.append(Finding(False, t["dev_missing"].format(path=path, why=why), t["dev_fix"]))
        elif not os.access(path, os.R_OK | os.W_OK):
            out.append(Finding(False, t["dev_perm"].format(path=path), t["dev_perm_fix"]))
        else:
            out.append(Finding(True, t["dev_ok"].format(path=path)))
    return out


def check_disk(cfg: NodeConfig, t: dict[str, str]) -> list[Finding]:
    where = cfg.state_dir if cfg.state_dir.exists() else Path("/")
    usage = shutil.disk_usage(where)
    free = usage.free // (1024 * 1024)
    if free < 500 or usage.free / usage.total < 0.05:
        return [Finding(False, t["disk_bad"].format(free=free), t["disk_fix"])]
    return [Finding(True, t["disk_ok"].format(free=free))]


def check_service(cfg: NodeConfig, t: dict[str, str]) -> list[Finding]:
    if not Path("/run/systemd/system").is_dir() or shutil.which("systemctl") is None:
        return [Finding(True, t["svc_skip"], skipped=True)]
    state = subprocess.run(["systemctl", "is-active", "hromada-node"], capture_output=True, text=True).stdout.strip()
    if state == "active":
        return [Finding(True, t["svc_ok"])]
    return [Finding(False, t["svc_bad"].format(state=state or "?"), t["svc_fix"])]


def run_doctor(config_path: str, lang: str = "uk", out: Callable[[str], None] = print) -> int:
    t = T[lang]
    try:
        cfg = load_node_config(config_path)
    except ConfigError as exc:
        out(f"✗ {t['config_bad'].format(err=exc)}\n    → {t['config_fix']}")
        out(t["summary_bad"].format(n=1))
        return 1
    findings = [Finding(True, t["config_ok"].format(path=config_path))]
    for check in (check_state, check_hub, check_devices, check_disk, check_service):
        findings += check(cfg, t)
    for f in findings:
        out(f"{'–' if f.skipped else ('✓' if f.ok else '✗')} {f.what}" + (f"\n    → {f.fix}" if f.fix else ""))
    bad = sum(not f.ok for f in findings)
    out(t["summary_ok"] if bad == 0 else t["summary_bad"].format(n=bad))
    return 0 if bad == 0 else 1
