"""The node's read-only NUT-protocol server (what ``upsd`` is to NUT clients).

``upsc``, Home Assistant's NUT integration and ``upsmon`` secondaries read
the UPS data this node holds as they would read a ``upsd``. Every request is
answered by :func:`power.nutproto.respond`; this module only does the
sockets and remembers who is logged in to which UPS (for ``LIST CLIENT``
and ``GET NUMLOGINS``, which upsmon primaries look at before shutting down).
Nothing a client sends can change a UPS: SET, INSTCMD, FSD are refused.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Callable, Mapping

from power.nutproto import LineSplitter, ServerConfig, Session, UpsView, respond

log = logging.getLogger("hromada.power.nutserver")

DEFAULT_PORT = 3493
# upsd listens on localhost unless told otherwise; so do we. A site that wants
# Home Assistant or upsmon secondaries on the LAN sets the address explicitly.
DEFAULT_HOST = "127.0.0.1"
_READ_CHUNK = 4096

ViewSource = Callable[[], Mapping[str, UpsView]]


class NutServer:
    """Serves the views returned by ``source`` (called for every request).

    ``port=0`` picks a free port (see :attr:`port` once started). At most
    ``max_clients`` connections are served at once; a board must not be
    tied up by a misbehaving client, and NUT clients reconnect anyway.
    """

    def __init__(self, source: ViewSource, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 config: ServerConfig = ServerConfig(), max_clients: int = 32):
        self._source = source
        self.host = host
        self._requested_port = port
        self.config = config
        self.max_clients = max_clients
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task] = set()
        self._logins: dict[asyncio.Task, tuple[str, str]] = {}  # task -> (ups, client address)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self._requested_port)
        log.info("NUT-сервер слухає / NUT server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> NutServer:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def views(self) -> dict[str, UpsView]:
        """The source's views with our own count of logged-in monitors added."""
        views = dict(self._source())
        for name, view in views.items():
            clients = tuple(sorted(addr for ups, addr in self._logins.values() if ups == name))
            if clients:
                views[name] = replace(view, clients=clients, numlogins=len(clients))
        return views

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= self.max_clients:
            log.warning("NUT-сервер: забагато клієнтів / too many clients, refusing one")
            writer.close()
            return
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else str(peer)
        try:
            await self._converse(reader, writer, address, task)
        except (ConnectionError, OSError):
            pass  # the client went away; nothing to clean but our own records
        finally:
            self._connections.discard(task)
            self._logins.pop(task, None)
            writer.close()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        address: str, task: asyncio.Task) -> None:
        # LineSplitter caps words at 32 of 512 characters, as upsd does, so a
        # client that never sends LF cannot make us hold more than that.
        splitter, session = LineSplitter(), Session()
        while not session.closed:
            data = await reader.read(_READ_CHUNK)
            if not data:
                return
            out: list[str] = []
            for words in splitter.feed(data):
                if not words:
                    continue  # an empty line or a comment: upsd says nothing either
                session, lines = respond(words, session, self.views(), self.config)
                out.extend(lines)
                if session.login_ups is not None and task not in self._logins:
                    self._logins[task] = (session.login_ups, address)
                if session.closed:
                    break
            if out:
                writer.write(("\n".join(out) + "\n").encode("ascii"))
                await writer.drain()
