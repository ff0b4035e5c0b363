"""mDNS: announce this node (or the hub), browse for the hub and for peers.

mDNS says *where* something is; it proves nothing. Identity is the TXT
``id``, checked later against keys from enrollment; liveness is judged by
heartbeats, never by mDNS (a killed process's record lingers for an hour).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import ifaddr
from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from edge.config import ConfigError
from edge.tasks import cancel_and_wait

log = logging.getLogger("hromada.discovery")

NODE_SERVICE = "_hromada._tcp.local."
HUB_SERVICE = "_hromada-hub._tcp.local."
TXT_VERSION = "1"
API_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Peer:
    """A service seen on the network (not yet trusted)."""

    service_type: str
    instance: str
    id: str
    roles: tuple[str, ...]
    version: str
    addresses: tuple[str, ...]
    port: int
    fingerprint: str = ""  # the hub's key fingerprint from TXT `fp` (a hint, not proof)

    @property
    def url(self) -> str:
        return f"http://{self.addresses[0]}:{self.port}" if self.addresses else ""


def lan_addresses() -> list[str]:
    """IPv4 addresses of this host fit for mDNS: not loopback, not link-local, not container bridges."""
    out: list[str] = []
    for adapter in ifaddr.get_adapters():
        name = adapter.nice_name
        if name.startswith(("docker", "br-", "veth", "virbr", "lxc", "cni", "flannel")):
            continue
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue
            addr = ipaddress.ip_address(ip.ip)
            if addr.is_loopback or addr.is_link_local:
                continue
            out.append(ip.ip)
    return out


def txt_properties(node_id: str, roles: tuple[str, ...], version: str) -> dict[str, str]:
    """TXT record in the project's order and limits (txtvers first, short keys)."""
    props = {"txtvers": TXT_VERSION, "id": node_id, "role": ",".join(roles), "ver": version, "api": API_VERSION}
    size = sum(len(k) + len(v) + 2 for k, v in props.items())
    if size > 200:
        raise ValueError(f"TXT record would be {size} bytes; keep it under 200")
    return props


def _peer_from_info(service_type: str, name: str, info: AsyncServiceInfo) -> Peer | None:
    props = info.decoded_properties
    node_id = props.get("id")
    if not node_id or props.get("txtvers") != TXT_VERSION:
        return None
    addresses = tuple(a for a in info.parsed_scoped_addresses(IPVersion.V4Only))
    instance = name[: -len(service_type) - 1] if name.endswith("." + service_type) else name
    return Peer(
        service_type=service_type,
        instance=instance,
        id=node_id,
        roles=tuple(r for r in (props.get("role") or "").split(",") if r),
        version=props.get("ver") or "",
        addresses=addresses,
        port=info.port or 0,
        fingerprint=props.get("fp") or "",
    )


class Discovery:
    """One zeroconf instance for the whole process, made inside the running loop."""

    def __init__(self, interfaces: list[str] | None = None) -> None:
        self.interfaces = interfaces or lan_addresses()
        self._zc: AsyncZeroconf | None = None
        self._registered: list[AsyncServiceInfo] = []
        self._browsers: list[AsyncServiceBrowser] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.peers: dict[str, dict[str, Peer]] = {}  # service type -> instance name -> peer
        self._listeners: list[Callable[[str, Peer | None, str], None]] = []
        self._changed = asyncio.Event()

    async def start(self) -> None:
        if not self.interfaces:
            raise RuntimeError("no network interface for mDNS: set [discovery] interfaces")
        self._zc = AsyncZeroconf(interfaces=self.interfaces, ip_version=IPVersion.V4Only)

    @property
    def zc(self) -> AsyncZeroconf:
        if self._zc is None:
            raise RuntimeError("discovery not started")
        return self._zc

    async def announce(
        self, service_type: str, instance: str, port: int, properties: dict[str, str], addresses: list[str] | None = None
    ) -> str:
        """Register a service; waits through probing. Returns the name actually used."""
        node_id = properties["id"]
        info = AsyncServiceInfo(
            service_type,
            f"{instance}.{service_type}",
            parsed_addresses=addresses or self.interfaces,
            port=port,
            properties=properties,
            server=f"{node_id}.local.",
        )
        await self.zc.async_register_service(info, allow_name_change=True)
        self._registered.append(info)
        log.info("announced %s on %s port %d", info.name, ",".join(addresses or self.interfaces), port)
        return info.name

    def on_change(self, listener: Callable[[str, Peer | None, str], None]) -> None:
        """``listener(service_type, peer or None when removed, instance name)``."""
        self._listeners.append(listener)

    async def browse(self, *service_types: str) -> None:
        for st in service_types:
            self.peers.setdefault(st, {})
        browser = AsyncServiceBrowser(self.zc.zeroconf, list(service_types), handlers=[self._on_state_change])
        self._browsers.append(browser)

    def _on_state_change(self, zeroconf: object, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            instance = name[: -len(service_type) - 1]
            self.peers.get(service_type, {}).pop(instance, None)
            self._notify(service_type, None, instance)
            return
        task = asyncio.ensure_future(self._resolve(service_type, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self.zc.zeroconf, 3000):
            return
        peer = _peer_from_info(service_type, name, info)
        if peer is None:
            log.debug("ignoring %s: no txtvers=1/id in TXT", name)
            return
        self.peers.setdefault(service_type, {})[peer.instance] = peer
        self._notify(service_type, peer, peer.instance)

    def _notify(self, service_type: str, peer: Peer | None, instance: str) -> None:
        self._changed.set()
        for listener in self._listeners:
            try:
                listener(service_type, peer, instance)
            except Exception:
                log.exception("discovery listener failed")

    async def wait_for(self, service_type: str, accept: Callable[[Peer], bool], timeout: float) -> Peer | None:
        """The first peer of ``service_type`` that ``accept`` takes, waiting up to ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for peer in list(self.peers.get(service_type, {}).values()):
                if peer.addresses and accept(peer):
                    return peer
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def close(self) -> None:
        """Send goodbye packets for what we announced, then close."""
        if self._zc is None:
            return
        for browser in self._browsers:
            with contextlib.suppress(Exception):
                await browser.async_cancel()
        await cancel_and_wait(list(self._tasks))
        for info in self._registered:
            with contextlib.suppress(Exception):
                await (await self._zc.async_unregister_service(info))
        self._registered.clear()
        await self._zc.async_close()
        self._zc = None


def peer_finder(discovery: Discovery, roster: Callable[[], list[dict[str, Any]]], role: str,
                timeout_s: float = 30.0) -> Callable[[], Awaitable[str]]:
    """Find a peer service by mDNS: a node announcing ``role`` whose id the roster approves.

    mDNS only says where; the key check in the peer handshake proves who answers.
    """
    browsing = False

    async def url_of() -> str:
        nonlocal browsing
        if not browsing:
            await discovery.browse(NODE_SERVICE)
            browsing = True
        approved = {p.get("node_id") for p in roster() if role in p.get("roles", [])}
        peer = await discovery.wait_for(NODE_SERVICE, lambda p: role in p.roles and p.id in approved, timeout_s)
        if peer is None:
            raise ConnectionError(f"no {role} found by mDNS (a node with role {role} that is in the roster)")
        return peer.url

    return url_of


def peer_url(ctx: Any, key: str, configured: str, role: str,
             timeout_s: float = 30.0) -> Callable[[], Awaitable[str]]:
    """Where a peer role answers: the URL configured at `key`, else found by mDNS among the roster's nodes.

    Raises ConfigError (naming `key`) when neither can work: no URL and discovery disabled.
    """
    if configured:
        base = configured.rstrip("/")

        async def fixed() -> str:
            return base

        return fixed
    if ctx.discovery is None:
        raise ConfigError(ctx.config.path, key, "is required when [discovery] is disabled")
    return peer_finder(ctx.discovery, lambda: ctx.hub.roster, role, timeout_s)

