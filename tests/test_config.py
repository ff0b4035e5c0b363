"""Configuration: a wrong file is refused with the file, the key and the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import ConfigError, load_hub_config, load_node_config, reference_markdown
from tests.conftest import ROOT

GOOD_NODE = """
[node]
name = "hall-1"
site = "rada"
roles = ["hall"]
state_dir = "/tmp/x"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "node.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_minimal_node_file_loads_with_documented_defaults(tmp_path: Path) -> None:
    cfg = load_node_config(write(tmp_path, GOOD_NODE))
    assert cfg.node.roles == ("hall",)
    assert cfg.node.port == 8700
    assert cfg.hub.url == "" and cfg.discovery.enabled is True
    assert cfg.outbox.backoff_max_s == 60.0
    assert cfg.gpio.pin_factory == "mock"


@pytest.mark.parametrize("text, key, reason", [
    (GOOD_NODE + "colour = 1\n", "node.colour", "unknown key"),
    (GOOD_NODE.replace('roles = ["hall"]', 'roles = ["bakery"]'), "node.roles", "unknown role 'bakery'"),
    (GOOD_NODE.replace('roles = ["hall"]', "roles = []"), "node.roles", "at least one role"),
    (GOOD_NODE.replace('roles = ["hall"]', 'roles = "hall"'), "node.roles", "must be a list"),
    (GOOD_NODE + "port = 70000\n", "node.port", "TCP port"),
    (GOOD_NODE + 'port = "80"\n', "node.port", "whole number"),
    (GOOD_NODE + "listen = \"localhost\"\n", "node.listen", "not an IP address"),
    (GOOD_NODE.replace('name = "hall-1"', 'name = "зала 1"'), "node.name", "only letters"),
    (GOOD_NODE.replace('site = "rada"\n', ""), "node.site", "is required"),
    (GOOD_NODE + "[hub]\nurl = \"ftp://x\"\n", "hub.url", "http://"),
    (GOOD_NODE + "[discovery]\ninterfaces = [\"10.0.0.300\"]\n", "discovery.interfaces", "not an IP address"),
    (GOOD_NODE + "[outbox]\nbatch_size = 0\n", "outbox.batch_size", "greater than 0"),
    (GOOD_NODE + "[gpio]\npin_factory = \"magic\"\n", "gpio.pin_factory", "must be one of"),
    (GOOD_NODE + "[roles.power]\nx = 1\n", "roles.power", "does not run"),
    (GOOD_NODE + "[extras]\n", "extras", "unknown section"),
    ("[node\n", "", "not valid TOML"),
    ("", "node", "section is required"),
])
def test_wrong_values_are_refused_naming_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_node_config(path)
    assert err.value.path == str(path)
    assert err.value.key == key
    assert reason in err.value.reason
    assert str(path) in str(err.value)


def test_missing_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_node_config(tmp_path / "nope.toml")
    p = tmp_path / "latin.toml"
    p.write_bytes(b'[node]\nname = "\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_node_config(p)


def test_hub_file_needs_a_state_dir(tmp_path: Path) -> None:
    p = tmp_path / "hub.toml"
    p.write_text("[hub]\nport = 8600\n")
    with pytest.raises(ConfigError) as err:
        load_hub_config(p)
    assert err.value.key == "hub.state_dir"


def test_cli_exits_2_and_prints_the_reason(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_NODE + "port = -1\n")
    for args in (["node", "--config", str(path)], ["hub", "--config", str(path)]):
        r = subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, cwd=ROOT,
                           timeout=60)
        assert r.returncode == 2
        assert str(path) in r.stderr
    assert "node.port" in subprocess.run([sys.executable, "-m", "edge.cli", "node", "--config", str(path)],
                                         capture_output=True, text=True, cwd=ROOT, timeout=60).stderr


def test_docs_describe_every_key_as_the_code_does() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert reference_markdown() in doc, "regenerate docs/configuration.md from edge.config.reference_markdown()"
