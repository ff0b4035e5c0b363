"""The NUT client's stale-data rule and its handling of bad servers, against our own
NUT server and hand-made misbehaving ones (the real upsd is in test_power_nut.py)."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest

from power.nutclient import NutClient, NutConnectionError, NutPoller, NutPollerConfig
from power.nutproto import NutProtocolError, UpsView
from power.nutserver import NutServer
from power.status import CommsConfig, CommsState, UpsEvent
from tests.conftest import free_port

FAST = CommsConfig(commbad_after=3, nocomm_after=6)


class FakeClock:
    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t


class Holder:
    """The data our server serves, changed by the test between polls."""

    def __init__(self) -> None:
        self.view = UpsView("ups", "Test", {"ups.status": "OL", "battery.charge": "97"})

    def views(self) -> dict[str, UpsView]:
        return {"ups": self.view}


@pytest.fixture
async def served() -> AsyncIterator[tuple[Holder, NutServer]]:
    holder = Holder()
    server = NutServer(holder.views, port=0)
    await server.start()
    try:
        yield holder, server
    finally:
        await server.stop()


async def junk_server(reply: bytes) -> asyncio.Server:
    """A server that answers every request with ``reply``."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():
                writer.write(reply)
                await writer.drain()
        finally:
            writer.close()
    return await asyncio.start_server(serve, "127.0.0.1", 0)


def poller_for(port: int, clock=None, **kw) -> NutPoller:
    cfg = NutPollerConfig("ups", port=port, timeout_s=1.0, comms=FAST, **kw)
    return NutPoller(cfg, clock=clock) if clock else NutPoller(cfg)


async def test_no_fresh_reading_within_stale_after_s_means_no_current_reading(served):
    _, server = served
    clock = FakeClock()
    poller = poller_for(server.port, clock, stale_after_s=15)
    try:
        await poller.poll()
        clock.t += 15
        assert poller.current().variables["battery.charge"] == "97"
        clock.t += 1
        assert poller.current() is None
        assert poller.view().stale and poller.ups_state().comms_lost
        assert poller.reading is not None  # kept for the record, just not as current
    finally:
        await poller.stop()


async def test_err_data_stale_withdraws_the_reading_at_once(served):
    holder, server = served
    poller = poller_for(server.port)
    try:
        await poller.poll()
        holder.view = UpsView("ups", stale=True)
        assert await poller.poll() == ()  # one failure: not yet COMMBAD ...
        assert poller.current() is None  # ... but the server said stale, so no data
        assert poller.health.last_fault == "DATA-STALE"
        holder.view = UpsView("ups", variables={"ups.status": "OB"})
        assert await poller.poll() == (UpsEvent.ONBATT,)
        assert poller.current() is not None
    finally:
        await poller.stop()


async def test_status_changes_become_events_and_the_state_for_the_policy(served):
    holder, server = served
    events: list[UpsEvent] = []
    poller = NutPoller(NutPollerConfig("ups", port=server.port), on_events=events.extend)
    try:
        await poller.poll()
        holder.view = UpsView("ups", variables={"ups.status": "OB LB", "battery.charge": "oops",
                                                "battery.runtime": "120"})
        await poller.poll()
        assert events == [UpsEvent.ONBATT, UpsEvent.LOWBATT]
        state = poller.ups_state()
        assert state.status == {"OB", "LB"} and state.runtime_s == 120
        assert state.charge_percent is None  # not a number: not guessed
    finally:
        await poller.stop()


async def test_an_unreachable_server_is_counted_until_commbad():
    poller = poller_for(free_port())
    events = [await poller.poll() for _ in range(FAST.commbad_after)]
    assert events[-1] == (UpsEvent.COMMBAD,)
    assert poller.health.state is CommsState.COMMBAD
    assert not poller.view().connected and poller.current() is None
    await poller.stop()


@pytest.mark.parametrize("reply", [b"BEGIN LIST VAR ups\nVAR ups\n", b"BEGIN LIST UPS\n",
                                   b"\xff\xfe garbage\n", b"VAR ups ups.status \"OL\n"])
async def test_a_garbled_server_is_a_failed_poll_never_a_crash(reply):
    server = await junk_server(reply)
    port = server.sockets[0].getsockname()[1]
    poller = poller_for(port)
    try:
        assert await poller.poll() == ()
        assert poller.health.total_failures == 1 and poller.reading is None
        assert not poller.client.connected  # re-synchronised by reconnecting
    finally:
        await poller.stop()
        server.close()
        await server.wait_closed()


async def test_client_raises_protocol_error_on_a_broken_list():
    server = await junk_server(b"BEGIN LIST UPS\nVAR x y \"z\"\n")
    try:
        async with NutClient("127.0.0.1", server.sockets[0].getsockname()[1], timeout_s=1) as c:
            with pytest.raises(NutProtocolError):
                await c.list_ups()
            assert not c.connected
    finally:
        server.close()
        await server.wait_closed()


async def test_a_silent_server_times_out_as_a_connection_error():
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()
    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    try:
        async with NutClient("127.0.0.1", server.sockets[0].getsockname()[1], timeout_s=0.2) as c:
            with pytest.raises(NutConnectionError):
                await c.get_var("ups", "ups.status")
    finally:
        server.close()
        await server.wait_closed()


async def test_our_server_ignores_a_client_that_sends_no_line_end(served):
    _, server = served
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"LIST VAR " + b"x" * 100_000)  # no LF: nothing to answer, bounded memory
    writer.write(b"\nGET VAR ups ups.status\n")
    await writer.drain()
    first = await asyncio.wait_for(reader.readline(), 2)
    second = await asyncio.wait_for(reader.readline(), 2)
    assert first.startswith(b"ERR UNKNOWN-UPS") and second == b'VAR ups ups.status "OL"\n'
    writer.close()
