"""Provisioning into a temporary root, systemd units checked by systemd itself, and the doctor."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, HubFixture, healthy, wait_until
from tests.voting_fixtures import write_council

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")


def hromada(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, input=input_text, stdin=None if input_text is not None else subprocess.DEVNULL)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_provisioning_writes_exactly_the_expected_files_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    args = ["provision", "--root", str(root), "--roles", "console,power", "--name", "consoles-3", "--site", "rada",
            "--address", "192.0.2.10", "--no-enroll", "--venv", "/opt/hromada/venv"]
    first = hromada(*args)
    assert first.returncode == 0, first.stderr
    files = {str(p.relative_to(root)): mode(p) for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}
    assert files == {
        "etc/hromada/node.toml": 0o640,
        "etc/systemd/system/hromada-node.service": 0o644,
        "etc/systemd/system/hromada-node.service.d/gpio.conf": 0o644,
        "etc/systemd/system/hromada-node.service.d/serial.conf": 0o644,
        "etc/systemd/system/hromada-node.service.d/spi.conf": 0o644,
        "etc/systemd/system/multi-user.target.wants/hromada-node.service": 0o777,
        "var/lib/hromada/node.key": 0o600,
    }
    assert mode(root / "var/lib/hromada") == 0o700 and mode(root / "etc/hromada") == 0o755
    assert os.readlink(root / "etc/systemd/system/multi-user.target.wants/hromada-node.service") == \
        "/etc/systemd/system/hromada-node.service"
    toml = (root / "etc/hromada/node.toml").read_text()
    assert 'roles = ["console", "power"]' in toml and 'listen = "192.0.2.10"' in toml
    mtimes = {p: p.lstat().st_mtime_ns for p in root.rglob("*")}
    second = hromada(*args)
    assert second.returncode == 0
    assert "Нічого не змінено" in second.stdout and "  + " not in second.stdout
    assert {p: p.lstat().st_mtime_ns for p in root.rglob("*")} == mtimes


def test_dry_run_writes_nothing_and_english_answers_work(tmp_path: Path) -> None:
    root = tmp_path / "root"
    r = hromada("provision", "--root", str(root), "--roles", "hall-display", "--name", "screen-1", "--site", "rada",
                "--no-enroll", "--dry-run", "--lang", "en")
    assert r.returncode == 0 and "Dry run" in r.stdout and "screen.conf" in r.stdout
    assert not root.exists()


def test_missing_answers_without_a_terminal_are_named(tmp_path: Path) -> None:
    r = hromada("provision", "--root", str(tmp_path), "--roles", "hall")
    assert r.returncode == 2 and "name" in r.stderr and "site" in r.stderr


def test_an_answers_file_provisions_boards_alike(tmp_path: Path) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text('roles = ["camera"]\nname = "cams-1"\nsite = "bezpechna"\nenroll = false\n'
                       'address = "192.0.2.20"\n')
    r = hromada("provision", "--root", str(tmp_path / "root"), "--answers", str(answers))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "root/etc/systemd/system/hromada-node.service.d/video.conf").exists()
    answers.write_text('roles = ["camera"]\nname = "cams-1"\ncolour = "red"\n')
    r = hromada("provision", "--root", str(tmp_path / "root"), "--answers", str(answers))
    assert r.returncode == 2 and "colour" in r.stderr


async def test_a_provisioned_node_enrolls_and_then_runs_online(tmp_path: Path, procs) -> None:
    hub = HubFixture(tmp_path)
    procs(["hub", "--config", str(hub.config_path)], tmp_path / "hub.log")  # its own process: we block below
    await wait_until(lambda: healthy(hub.url), timeout=20, what="hub")
    root = tmp_path / "root"
    council = write_council(tmp_path / "council.toml", seats=3, deputies=3, consoles={"c": range(1, 4)})
    settings = tmp_path / "roles.toml"
    settings.write_text(f'[roles.hall]\ncouncil_file = "{council}"\n')
    r = hromada("provision", "--root", str(root), "--roles", "hall", "--name", "hall-7", "--site", "rada",
                "--hub-url", hub.url, "--code", hub.code(role="hall"), "--address", "127.0.0.1", "--port", "0",
                "--role-settings", str(settings))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "enrollment: approved" in r.stdout
    assert not (root / "etc/hromada/enrollment-code").exists(), "the single-use code is gone"
    again = hromada("provision", "--root", str(root), "--roles", "hall", "--name", "hall-7", "--site", "rada",
                    "--hub-url", hub.url, "--code", "HRM1-aaaaaaaa-" + "a" * 26 + "-" + "0" * 16,
                    "--address", "127.0.0.1", "--port", "0", "--role-settings", str(settings))
    assert "Нічого не змінено" in again.stdout, again.stdout
    # Run it as the board would, with the board's root mounted at `root`.
    cfg = root / "etc/hromada/node.toml"
    run_cfg = tmp_path / "run.toml"
    run_cfg.write_text(cfg.read_text().replace('state_dir = "/var/lib/hromada"',
                                               f'state_dir = "{root / "var/lib/hromada"}"')
                       .replace("/etc/hromada/enrollment-code", str(root / "etc/hromada/enrollment-code")))
    procs(["node", "--config", str(run_cfg)], tmp_path / "node.log")
    await wait_until(lambda: hub.query("SELECT name, online FROM nodes") == [("hall-7", 1)], timeout=30,
                     what="the provisioned node online at the hub")


def test_doctor_names_each_injected_fault_with_a_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[node]\nname = "n"\nsite = "s"\nroles = ["power"]\nstate_dir = "/tmp/x"\nport = 99999\n')
    r = hromada("doctor", "--config", str(bad))
    assert r.returncode == 1 and "node.port" in r.stdout and "→" in r.stdout

    state = tmp_path / "state"
    good = tmp_path / "node.toml"
    good.write_text(f'[node]\nname = "n"\nsite = "s"\nroles = ["power"]\nstate_dir = "{state}"\n'
                    f'[hub]\nurl = "http://127.0.0.1:9"\n')
    r = hromada("doctor", "--config", str(good), "--lang", "en")
    assert r.returncode == 1
    assert "No state directory" in r.stdout and "does not answer" in r.stdout and "not enrolled" in r.stdout
    from edge.identity import Identity

    Identity.load_or_create(state)
    os.chmod(state, 0o755)
    r = hromada("doctor", "--config", str(good), "--lang", "en")
    assert "should be 700" in r.stdout and "chmod 700" in r.stdout


def test_doctor_reports_a_missing_serial_device() -> None:
    from edge.config import parse_node_config
    from provisioning.doctor import T, check_devices

    cfg = parse_node_config({"node": {"name": "n", "site": "s", "roles": ["power"], "state_dir": "/tmp/x"},
                             "roles": {"power": {"ups": {"url": "/dev/ttyUSB9"}}}})
    findings = check_devices(cfg, T["uk"])
    assert [f.ok for f in findings] == [False] and "/dev/ttyUSB9" in findings[0].what and findings[0].fix


@needs_systemd
@pytest.mark.parametrize("dropin", [None, "gpio", "serial", "spi", "video", "audio", "screen"])
def test_node_unit_verifies_silently_and_scores_as_hardened(tmp_path: Path, dropin: str | None) -> None:
    from provisioning.provision import SYSTEMD_DIR, unit_text

    text = unit_text("hromada-node.service", sys.prefix)
    if dropin:
        text += "\n" + (SYSTEMD_DIR / "dropins" / f"{dropin}.conf").read_text()
    _check_unit(tmp_path, "hromada-node.service", text)


@needs_systemd
def test_hub_unit_verifies_silently_and_scores_as_hardened(tmp_path: Path) -> None:
    from provisioning.provision import unit_text

    _check_unit(tmp_path, "hromada-hub.service", unit_text("hromada-hub.service", sys.prefix))


def _check_unit(tmp_path: Path, name: str, text: str) -> None:
    unit = tmp_path / name
    unit.write_text(text)
    # An unknown key only warns and still exits 0: any output at all is a failure.
    r = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr
    r = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", str(unit)], capture_output=True, text=True,
                       cwd=tmp_path)
    score = float(re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout).group(1))
    assert score <= 2.5, r.stdout[-2000:]
