"""`[roles.camera]`: which cameras a relay serves and how it watches them.

The node's TOML names the cameras (``[[roles.camera.cameras]]``) with their
addresses *without* credentials; user names and passwords live in a separate
secrets file (``secrets_file``, readable by the node's user only), so the
configuration can be shown, copied and committed without leaking a camera's
password. `CameraSource.url` (with credentials) is handed to the worker
process only, over its stdin, never on a command line and never to a log:
everything logged or shown goes through `redact`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cameras.thresholds import HealthConfig
from cameras.verdict import Persistence, Verdict
from edge.config import ConfigError, build_section, label, not_negative, one_of, option, positive, required

SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "file://")
#: `url` of a simulated camera started by the role itself (demo only).
SIM_URLS = ("sim:mjpeg", "sim:rtsp")


def camera_url(value: str) -> str | None:
    if value in SIM_URLS:
        return None
    if value.startswith("/"):
        return None  # a file path (tests, a recorded clip)
    if not value.startswith(SCHEMES):
        return f"must start with {', '.join(SCHEMES)}, be an absolute file path, or be {' or '.join(SIM_URLS)}"
    parts = urllib.parse.urlsplit(value)
    if parts.password is not None or parts.username is not None:
        return "must not carry a user name or password: put them in secrets_file"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraSettings:
    """`[roles.camera]`: the camera relay of this node."""

    secrets_file: str = option(
        "", "TOML file with each camera's credentials: a table per camera id with `username` and `password`. "
            "Must not be readable by group or others. Empty: no camera needs credentials.")
    health_interval_s: float = option(
        2.0, "At most one picture per camera is decoded and judged per this many seconds (H.264/H.265: keyframes "
             "only; MJPEG: one frame).", positive)
    preview_fps: float = option(1.0, "Highest frame rate of the low-rate MJPEG preview.", positive)
    read_batch_s: float = option(
        0.2, "A worker reads its camera in bursts this far apart instead of waking for every frame (a wakeup costs "
             "more CPU than relaying the frame). Adds up to this much delay to a relayed H.264/H.265 stream; an "
             "MJPEG stream being watched is read frame by frame. 0: read every frame as it comes, seconds.",
        lambda v: None if 0 <= v <= 1 else "must be from 0 to 1")
    open_timeout_s: float = option(10.0, "Timeout of one connection attempt to a camera, seconds.", positive)
    read_timeout_s: float = option(10.0, "A read from a connected camera that takes longer fails, seconds.", positive)
    watchdog_s: float = option(
        20.0, "A worker that has received no packet for this long while connected (or hangs in a connection "
              "attempt) is killed and restarted, seconds (outside the media library, which can hang).", positive)
    reconnect_max_s: float = option(
        60.0, "Longest wait between connection attempts (the waits grow about 1, 5, 10, then this), seconds.",
        positive)
    max_viewers: int = option(8, "Most simultaneous stream and preview viewers per camera.", positive)
    viewer_buffer_kb: int = option(
        1024, "Per-viewer queue of the relayed stream; a viewer further behind skips to the next keyframe, KiB.",
        positive)
    relay_linger_s: float = option(
        10.0, "The relay of a camera's stream stops this long after its last viewer left, seconds.", not_negative)
    reconcile_after_s: float = option(
        120.0, "After a restart, alerts raised before it and not raised again within this time are cleared, "
               "seconds.", positive)
    scenario: str = option("", "`demo`: run simulated cameras (`url = \"sim:mjpeg\"`/`\"sim:rtsp\"`) and switch "
                               "them to faults and back for the demo. Empty: none.",
                           one_of("", "demo"))


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraSection:
    """`[[roles.camera.cameras]]`: one camera."""

    id: str = required("Short id of the camera, unique on this node, used in URLs and alerts, e.g. `cam-school-1`.",
                       label)
    name: str = required("Name people see, Ukrainian, e.g. `Школа №1, вхід`.",
                         lambda v: None if v.strip() else "must not be empty")
    location: str = option("", "Where the camera hangs (free text shown beside the name).")
    url: str = required("Stream address without credentials: `rtsp://…`, `http://…` (MJPEG), a file path, or "
                        "`sim:mjpeg`/`sim:rtsp` with `scenario = \"demo\"`.", camera_url)
    expected_fps: float = option(0.0, "Frame rate the camera is set to; the `low_fps` verdict compares with it "
                                      "(0: not judged).", not_negative)


@dataclass(frozen=True, slots=True)
class CameraSource:
    """One camera as the relay uses it: its section and its address with credentials."""

    section: CameraSection
    url: str  # with credentials: only for the worker process
    secrets: tuple[str, ...]  # strings that must never reach a log

    @property
    def id(self) -> str:
        return self.section.id

    @property
    def public_url(self) -> str:
        return redact(self.url, self.secrets)


@dataclass(frozen=True, slots=True)
class CameraRoleConfig:
    """The validated `[roles.camera]` table."""

    settings: CameraSettings
    cameras: tuple[CameraSource, ...]
    health: HealthConfig


_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` fit for a log or a page: credentials in URLs and known secrets replaced by ***."""
    text = _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            quoted = urllib.parse.quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, "***")
    return text


def with_credentials(url: str, username: str, password: str) -> str:
    """`url` with percent-encoded credentials in its user-info part (as FFmpeg wants them)."""
    parts = urllib.parse.urlsplit(url)
    userinfo = urllib.parse.quote(username, safe="")
    if password:
        userinfo += ":" + urllib.parse.quote(password, safe="")
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def load_secrets(path: str, config_path: str) -> dict[str, dict[str, str]]:
    """Read the secrets file: {camera id: {"username": …, "password": …}}."""
    key = "roles.camera.secrets_file"
    p = Path(path)
    try:
        mode = p.stat().st_mode
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(config_path, key, f"cannot read {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(config_path, key, f"{path} is readable by others (mode {mode & 0o777:o}); chmod 600 it")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # The parser's message may quote the file's text: do not repeat it.
        raise ConfigError(config_path, key, f"{path} is not valid UTF-8 TOML ({type(exc).__name__})") from None
    out: dict[str, dict[str, str]] = {}
    for cam_id, table in data.items():
        if not isinstance(table, dict) or set(table) - {"username", "password"} or not all(
                isinstance(v, str) for v in table.values()):
            raise ConfigError(config_path, key, f"{path}: [{cam_id}] must hold only username and password strings")
        out[cam_id] = {"username": table.get("username", ""), "password": table.get("password", "")}
    return out


def parse_health(table: Any, path: str) -> HealthConfig:
    """`[roles.camera.health]`: overrides of `HealthConfig` fields, and
    `[roles.camera.health.persistence.<verdict>]` overrides of its persistence."""
    prefix = "roles.camera.health"
    if not isinstance(table, dict):
        raise ConfigError(path, prefix, "must be a table")
    fields = {f.name: f for f in dataclasses.fields(HealthConfig) if f.name != "persistence"}
    values: dict[str, Any] = {}
    for name, value in table.items():
        if name == "persistence":
            continue
        if name not in fields:
            raise ConfigError(path, f"{prefix}.{name}", f"unknown key; known keys: persistence, "
                                                          f"{', '.join(sorted(fields))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"{prefix}.{name}", "must be a number")
        values[name] = int(value) if fields[name].type in (int, "int") else float(value)
    persistence: dict[Verdict, Persistence] = {}
    raw = table.get("persistence", {})
    if not isinstance(raw, dict):
        raise ConfigError(path, f"{prefix}.persistence", "must be a table of verdict tables")
    from cameras.thresholds import DEFAULT_PERSISTENCE

    for name, rule in raw.items():
        key = f"{prefix}.persistence.{name}"
        try:
            verdict = Verdict(name)
        except ValueError:
            raise ConfigError(path, key, f"unknown verdict; known: {', '.join(v for v in Verdict if v != 'ok')}") \
                from None
        base = DEFAULT_PERSISTENCE.get(verdict)
        if base is None or not isinstance(rule, dict):
            raise ConfigError(path, key, "must be a table for a judged verdict")
        known = {f.name for f in dataclasses.fields(Persistence)}
        if bad := set(rule) - known:
            raise ConfigError(path, f"{key}.{sorted(bad)[0]}", f"unknown key; known keys: {', '.join(sorted(known))}")
        try:
            persistence[verdict] = dataclasses.replace(base, **rule)
        except (TypeError, ValueError) as exc:
            raise ConfigError(path, key, str(exc)) from None
    try:
        return HealthConfig(**values, persistence=persistence)
    except ValueError as exc:
        raise ConfigError(path, prefix, str(exc)) from None


def parse_camera_config(table: dict[str, Any], path: str) -> CameraRoleConfig:
    """Validate `[roles.camera]`; raises ConfigError naming the file, the key and the reason."""
    prefix = "roles.camera"
    extra = ("cameras", "health")
    known = {f.name for f in dataclasses.fields(CameraSettings)} | set(extra)
    for key in table:
        if key not in known:
            raise ConfigError(path, f"{prefix}.{key}", f"unknown key; known keys: {', '.join(sorted(known))}")
    settings = build_section(CameraSettings, {k: v for k, v in table.items() if k not in extra}, path, prefix)
    secrets = load_secrets(settings.secrets_file, path) if settings.secrets_file else {}
    raw_cameras = table.get("cameras")
    if not isinstance(raw_cameras, list) or not raw_cameras:
        raise ConfigError(path, f"{prefix}.cameras", "name at least one camera: [[roles.camera.cameras]]")
    cameras: list[CameraSource] = []
    for i, raw in enumerate(raw_cameras):
        key = f"{prefix}.cameras[{i}]"
        section = build_section(CameraSection, raw, path, key)
        if any(c.id == section.id for c in cameras):
            raise ConfigError(path, f"{key}.id", f"camera {section.id!r} is listed twice")
        if section.url in SIM_URLS and settings.scenario != "demo":
            raise ConfigError(path, f"{key}.url", "a simulated camera needs scenario = \"demo\"")
        url = section.url if not section.url.startswith("/") else "file://" + section.url
        hidden: tuple[str, ...] = ()
        cred = secrets.get(section.id)
        if cred and (cred["username"] or cred["password"]):
            if not url.startswith(("rtsp://", "rtsps://", "http://", "https://")):
                raise ConfigError(path, f"{key}.url", "credentials in secrets_file apply to rtsp:// or http:// only")
            url = with_credentials(url, cred["username"], cred["password"])
            hidden = tuple(s for s in (cred["password"],) if s)
        cameras.append(CameraSource(section, url, hidden))
    unknown = set(secrets) - {c.id for c in cameras}
    if unknown:
        raise ConfigError(path, f"{prefix}.secrets_file", f"holds credentials of unknown cameras: "
                                                          f"{', '.join(sorted(unknown))}")
    health = parse_health(table.get("health", {}), path)
    return CameraRoleConfig(settings, tuple(cameras), health)


def secrets_file_mode_ok(path: str) -> bool:
    """True when only the owner can read the file (for the docs and the tests)."""
    return not os.stat(path).st_mode & 0o077
