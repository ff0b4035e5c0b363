"""TOML configuration validated into typed, frozen objects.

One file per node (``hromada node``) or per hub (``hromada hub``). Every
section is a dataclass whose fields carry their documentation and their
checks; :func:`load_node_config` and :func:`load_hub_config` refuse a wrong
file with :class:`ConfigError`, which names the file, the key and the reason.
``docs/configuration.md`` documents the same fields (a test keeps the two in
step).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import tomllib
import typing
from dataclasses import dataclass, field
from datetime import time as datetime_time
from pathlib import Path
from typing import Any, Callable

from edge import clock
from edge import roles as role_registry


class ConfigError(Exception):
    """A configuration file that cannot be used: which file, which key, why."""

    def __init__(self, path: str | Path, key: str, reason: str) -> None:
        self.path = str(path)
        self.key = key
        self.reason = reason
        super().__init__(f"{self.path}: {key}: {reason}" if key else f"{self.path}: {reason}")


def option(default: Any, doc: str, check: Callable[[Any], str | None] | None = None) -> Any:
    """A configuration field with its documentation and an optional check.

    ``check`` returns an error text for a bad value, or None.
    """
    meta = {"doc": doc, "check": check}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for list defaults")
    return field(default=default, metadata=meta)


def required(doc: str, check: Callable[[Any], str | None] | None = None) -> Any:
    return field(metadata={"doc": doc, "check": check, "required": True})


# -- checks -----------------------------------------------------------------

def _infinite(value: float) -> bool:
    # TOML has nan and inf: a lifetime of inf would never expire, a timeout of nan never fire.
    return isinstance(value, float) and not math.isfinite(value)


def positive(value: float) -> str | None:
    if _infinite(value):
        return "must be a finite number"
    return None if value > 0 else "must be greater than 0"


def at_least(n: float, unit: str = "") -> Callable[[float], str | None]:
    """A check that a number is at least ``n`` (screen pixels, seconds)."""
    def check(value: float) -> str | None:
        if _infinite(value):
            return "must be a finite number"
        return None if value >= n else f"must be at least {n}{' ' + unit if unit else ''}"
    return check


def not_negative(value: float) -> str | None:
    if _infinite(value):
        return "must be a finite number"
    return None if value >= 0 else "must not be negative"


def time_of_day(value: str) -> str | None:
    """A local time of day, ``HH:MM`` (``03:00``)."""
    try:
        datetime_time.fromisoformat(value)
    except ValueError:
        return f"must be a time of day HH:MM, e.g. 03:00 (got {value!r})"
    return None


def time_of_day_or_empty(value: str) -> str | None:
    """``HH:MM``, or empty for "none"."""
    return None if value == "" else time_of_day(value)


def time_zone(value: str) -> str | None:
    """An IANA time zone name (``Europe/Kyiv``)."""
    try:
        clock.zone(value)
    except ValueError as exc:
        return str(exc)
    return None


def port_number(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "must be a TCP port from 0 to 65535 (0 picks a free port)"


def one_of(*allowed: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)} (got {value!r})"
    return check


def label(value: str) -> str | None:
    """Names that travel in mDNS TXT records and URLs: short, plain."""
    if not value:
        return "must not be empty"
    if len(value) > 63:
        return "must be at most 63 characters"
    if not all(c.isalnum() or c in "-_." for c in value):
        return "may contain only letters, digits, '-', '_' and '.'"
    return None


def ip_address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


def ip_addresses(values: tuple[str, ...]) -> str | None:
    for v in values:
        if (err := ip_address(v)) is not None:
            return err
    return None


def http_url(value: str) -> str | None:
    if value and not value.startswith(("http://", "https://")):
        return "must start with http:// or https:// (or be empty)"
    return None


def known_roles(values: tuple[str, ...]) -> str | None:
    if not values:
        return "name at least one role"
    for v in values:
        if v not in role_registry.NODE_ROLES:
            return f"unknown role {v!r}; known roles: {', '.join(role_registry.NODE_ROLES)}"
    if len(set(values)) != len(values):
        return "a role is named twice"
    return None


# -- sections ----------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSection:
    """`[node]`: who this node is and where it keeps its state."""

    name: str = required("Human name of the node, unique within the site (also the mDNS instance name).", label)
    site: str = required("Site (building) the node belongs to, e.g. `rada` or `cnap-centre`.", label)
    roles: tuple[str, ...] = required("Roles this node runs, e.g. `[\"hall\"]` or `[\"console\"]`.", known_roles)
    state_dir: str = required("Directory for the key, the database and caches (created with mode 0700).")
    listen: str = option("127.0.0.1", "Address the node's HTTP server binds to.", ip_address)
    port: int = option(8700, "TCP port of the node's HTTP server (0 picks a free port).", port_number)
    timezone: str = option(clock.DEFAULT_ZONE, "Time zone of every time a person sees at this node (screens, tickets, cards).",
                           time_zone)
    log_level: str = option("info", "Log level: debug, info, warning, error.", one_of("debug", "info", "warning", "error"))
    shutdown_command: str = option(
        "", "Command run when the hub asks this node to shut down (a power plan), e.g. `sudo systemctl poweroff`."
        " Empty: the request is only recorded and logged.")


@dataclass(frozen=True, slots=True, kw_only=True)
class HubLinkSection:
    """`[hub]` in a node's file: how the node reaches its hub."""

    url: str = option("", "Hub base URL, e.g. `http://10.0.0.2:8600`. Empty: find the hub by mDNS.", http_url)
    enrollment_code: str = option(
        "", "One-time enrollment code from `hromada hub token` (needed until the node is enrolled)."
    )
    enrollment_code_file: str = option(
        "", "File holding the enrollment code instead of `enrollment_code`; deleted after enrollment."
    )
    request_timeout_s: float = option(10.0, "Timeout of one request to the hub, seconds.", positive)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoverySection:
    """`[discovery]`: mDNS announcement and browsing."""

    enabled: bool = option(True, "Announce this node and browse for the hub and peers with mDNS.")
    interfaces: tuple[str, ...] = option(
        (), "IPv4 addresses of the LAN interfaces to use for mDNS. Empty: every non-loopback IPv4 address.",
        ip_addresses,
    )
    advertise: tuple[str, ...] = option(
        (), "Addresses to advertise in the service record. Empty: the `interfaces` addresses.", ip_addresses
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxSection:
    """`[outbox]`: store-and-forward delivery to the hub."""

    batch_size: int = option(500, "Messages per delivery request.", positive)
    max_rows: int = option(
        200_000, "Most undelivered messages kept; beyond it the oldest telemetry is dropped (never votes, tickets or alarms).",
        positive,
    )
    backoff_initial_s: float = option(1.0, "First wait after a failed delivery, seconds.", positive)
    backoff_max_s: float = option(60.0, "Longest wait between delivery attempts, seconds.", positive)
    keep_sent_s: float = option(86_400.0, "How long delivered messages stay in the local database, seconds.", positive)


@dataclass(frozen=True, slots=True, kw_only=True)
class GpioSection:
    """`[gpio]`: which gpiozero pin factory drives the pins."""

    pin_factory: str = option(
        "mock", "gpiozero pin factory: `mock` (demo, tests), `lgpio` or `native` (a board).",
        one_of("mock", "lgpio", "native", "rpigpio", "pigpio"),
    )


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """A node's whole configuration file."""

    path: str
    node: NodeSection
    hub: HubLinkSection
    discovery: DiscoverySection
    outbox: OutboxSection
    gpio: GpioSection
    roles: dict[str, dict[str, Any]]

    @property
    def state_dir(self) -> Path:
        return Path(self.node.state_dir)


@dataclass(frozen=True, slots=True, kw_only=True)
class HubSection:
    """`[hub]` in a hub's file."""

    name: str = option("hub", "Name of the hub (mDNS instance name).", label)
    state_dir: str = required("Directory for the hub's key and database (created with mode 0700).")
    listen: str = option("127.0.0.1", "Address the hub's HTTP server binds to.", ip_address)
    port: int = option(8600, "TCP port of the hub's HTTP server (0 picks a free port).", port_number)
    heartbeat_interval_s: float = option(10.0, "How often nodes send heartbeats, seconds (nodes take it from the hub).", positive)
    offline_after_missed: int = option(3, "Missed heartbeats after which a node is marked offline and an alert is raised.", positive)
    max_clock_skew_s: float = option(120.0, "Signed requests whose time differs more than this from the hub's are refused, seconds.", positive)
    token_ttl_s: float = option(86_400.0, "Default lifetime of an enrollment token, seconds.", positive)
    max_body_bytes: int = option(4 * 1024 * 1024, "Largest request body accepted, bytes.", positive)
    max_batch: int = option(5000, "Most messages accepted in one ingest request.", positive)
    timezone: str = option(clock.DEFAULT_ZONE, "Time zone of the times the hub shows people (dashboard, alerts, enrollment codes, notifications).",
                           time_zone)
    log_level: str = option("info", "Log level: debug, info, warning, error.", one_of("debug", "info", "warning", "error"))


@dataclass(frozen=True, slots=True)
class HubConfig:
    """A hub's whole configuration file."""

    path: str
    hub: HubSection
    discovery: DiscoverySection
    notify: tuple[Any, ...] = ()

    @property
    def state_dir(self) -> Path:
        return Path(self.hub.state_dir)


# -- loading -----------------------------------------------------------------

def _type_name(tp: Any) -> str:
    return {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any) -> Any:
    """Return ``value`` as ``tp`` or raise ValueError with a reason."""
    origin = typing.get_origin(tp)
    if origin is tuple:
        (item_tp, _) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ValueError(f"must be a list of {_type_name(item_tp)}s")
        return tuple(_coerce(v, item_tp) for v in value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return value
    raise TypeError(f"unsupported configuration type {tp!r}")


def build_section(cls: type, data: Any, path: str | Path, prefix: str) -> Any:
    """Validate one TOML table into the dataclass ``cls``.

    Unknown keys are refused (a typo must not silently fall back to a
    default), missing required keys are named, every value is type-checked
    and then passed through the field's own check.
    """
    if not isinstance(data, dict):
        raise ConfigError(path, prefix, "must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(path, f"{prefix}.{key}", f"unknown key; known keys: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}"
        if f.name not in data:
            if f.metadata.get("required"):
                raise ConfigError(path, key, "is required")
            continue
        try:
            value = _coerce(data[f.name], hints[f.name])
        except ValueError as exc:
            raise ConfigError(path, key, str(exc)) from None
        check = f.metadata.get("check")
        if check is not None and (err := check(value)) is not None:
            raise ConfigError(path, key, err)
        values[f.name] = value
    return cls(**values)


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(p, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(p, "", f"cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(p, "", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(p, "", f"is not valid TOML: {exc}") from None


def _check_sections(data: dict[str, Any], allowed: set[str], path: str | Path) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(path, key, f"unknown section; known sections: {', '.join(sorted(allowed))}")


def parse_node_config(data: dict[str, Any], path: str | Path = "<config>") -> NodeConfig:
    _check_sections(data, {"node", "hub", "discovery", "outbox", "gpio", "roles"}, path)
    if "node" not in data:
        raise ConfigError(path, "node", "section is required")
    node = build_section(NodeSection, data["node"], path, "node")
    hub = build_section(HubLinkSection, data.get("hub", {}), path, "hub")
    if hub.enrollment_code and hub.enrollment_code_file:
        raise ConfigError(path, "hub.enrollment_code_file", "give either enrollment_code or enrollment_code_file, not both")
    roles_data = data.get("roles", {})
    if not isinstance(roles_data, dict):
        raise ConfigError(path, "roles", "must be a table of role tables, e.g. [roles.hall]")
    role_tables: dict[str, dict[str, Any]] = {}
    for name, table in roles_data.items():
        if name not in node.roles:
            raise ConfigError(path, f"roles.{name}", f"configures a role this node does not run (node.roles = {list(node.roles)})")
        if not isinstance(table, dict):
            raise ConfigError(path, f"roles.{name}", "must be a table")
        role_tables[name] = table
    return NodeConfig(
        path=str(path),
        node=node,
        hub=hub,
        discovery=build_section(DiscoverySection, data.get("discovery", {}), path, "discovery"),
        outbox=build_section(OutboxSection, data.get("outbox", {}), path, "outbox"),
        gpio=build_section(GpioSection, data.get("gpio", {}), path, "gpio"),
        roles=role_tables,
    )


def load_node_config(path: str | Path) -> NodeConfig:
    """Read and validate a node's configuration file."""
    return parse_node_config(read_toml(path), path)


def parse_hub_config(data: dict[str, Any], path: str | Path = "<config>") -> HubConfig:
    from edge.hub.notify import NotifySection, check_channels

    _check_sections(data, {"hub", "discovery", "notify"}, path)
    if "hub" not in data:
        raise ConfigError(path, "hub", "section is required")
    notify = data.get("notify", [])
    if not isinstance(notify, list):
        raise ConfigError(path, "notify", "must be an array of tables [[notify]]")
    channels = tuple(build_section(NotifySection, ch, path, f"notify[{i}]") for i, ch in enumerate(notify))
    check_channels(channels, str(path))
    return HubConfig(
        path=str(path),
        hub=build_section(HubSection, data["hub"], path, "hub"),
        discovery=build_section(DiscoverySection, data.get("discovery", {}), path, "discovery"),
        notify=channels,
    )


def load_hub_config(path: str | Path) -> HubConfig:
    """Read and validate a hub's configuration file."""
    return parse_hub_config(read_toml(path), path)


def _notify_section() -> type:
    from edge.hub.notify import NotifySection

    return NotifySection


def documented_sections() -> dict[str, type]:
    """Every section class by its heading in the docs, for the docs and their test."""
    sections: dict[str, type] = {
        "[node]": NodeSection,
        "[hub] in a node's file": HubLinkSection,
        "[discovery]": DiscoverySection,
        "[outbox]": OutboxSection,
        "[gpio]": GpioSection,
        "[hub] in the hub's file": HubSection,
        "[[notify]] in the hub's file": _notify_section(),
    }
    for heading, target in role_registry.ROLE_SETTINGS.items():
        sections[heading] = role_registry.load(target)
    return sections


def reference_markdown() -> str:
    """The key tables of ``docs/configuration.md``, made from the fields themselves."""
    out: list[str] = []
    for heading, cls in documented_sections().items():
        out.append(f"### {heading}")
        out.append("")
        out.append((cls.__doc__ or "").strip().split("\n")[0])
        out.append("")
        out.append("| key | type | default | meaning |")
        out.append("| --- | --- | --- | --- |")
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            tname = {str: "string", int: "integer", float: "number", bool: "boolean"}.get(tp, "list of strings")
            if f.metadata.get("required"):
                default = "required"
            else:
                d = f.default
                default = "`[]`" if d == () else f"`{str(d).lower() if isinstance(d, bool) else d!r}`".replace("'", '"')
            out.append(f"| `{f.name}` | {tname} | {default} | {f.metadata['doc']} |")
        out.append("")
    return "\n".join(out)
