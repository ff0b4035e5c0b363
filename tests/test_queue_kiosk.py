"""A kiosk's sealed socket to the queue: the menu, tickets, check-in, ratings, precise refusals."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from edge import hubclient
from edge.config import parse_node_config
from edge.hubclient import HubClient
from edge.identity import Identity
from edge.peers import PeerClient
from edge.store import Store
from kiosk import protocol
from tests.conftest import HubFixture, wait_until
from tests.test_queue_service import Cnap, cnap  # noqa: F401 (fixture)


class RawKiosk:
    """A kiosk node speaking the protocol by hand (enrolled for real, sealed messages)."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name, self.tmp = name, tmp / name
        self.messages: list[dict[str, Any]] = []
        self.client: HubClient | None = None
        self.link: PeerClient | None = None
        self._task: asyncio.Task[None] | None = None

    async def enroll(self, hub: HubFixture) -> None:
        cfg = parse_node_config({"node": {"name": self.name, "site": "cnap", "roles": ["kiosk"],
                                          "state_dir": str(self.tmp)},
                                 "hub": {"url": hub.url, "enrollment_code": hub.code(role="kiosk", site="cnap")}})
        store = await Store.open(self.tmp / "node.sqlite", {"hubclient": hubclient.MIGRATIONS})
        self.client = HubClient(cfg, Identity.load_or_create(self.tmp), store, None, lambda: 1)
        await self.client.load_state()
        assert await self.client.enroll() == "approved"

    async def connect(self, url: str, queue_id: str, queue_key: str) -> None:
        async def url_of() -> str:
            return url

        async def on_message(m: dict[str, Any]) -> None:
            self.messages.append(m)

        assert self.client is not None
        self.link = PeerClient(self.client.identity, protocol.KIOSK_PATH, url_of,
                               lambda nid: queue_key if nid == queue_id else None, on_message)
        self._task = asyncio.create_task(self.link.run())
        await wait_until(self.link.connected.is_set, what="kiosk connected")

    async def ask(self, **message: Any) -> dict[str, Any]:
        message.setdefault("id", str(uuid.uuid4()))
        assert self.link is not None
        await self.link.send(message)
        return await wait_until(lambda: next((m for m in self.messages if m.get("id") == message["id"]), None),
                                what=f"answer to {message}")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except BaseException:
                pass
        if self.client:
            await self.client.close()
            await self.client.store.close()


async def test_a_kiosk_gets_its_menu_tickets_and_precise_refusals_and_a_resent_request_prints_nothing_new(
        hub: HubFixture, cnap: Cnap, tmp_path: Path) -> None:
    kiosk = RawKiosk("cnap-kiosk", tmp_path)
    await kiosk.enroll(hub)
    node = cnap.node  # type: ignore[attr-defined]
    await wait_until(lambda: len(node.hub.roster) == 2, what="kiosk in the queue's roster")
    await kiosk.connect(cnap.url, node.identity.id, node.identity.public_key_b64)
    try:
        menu = await wait_until(lambda: next((m for m in kiosk.messages if m["type"] == "menu"), None),
                                what="menu sent after the handshake")
        groups = [g for area in menu["areas"] for g in area["groups"]]
        assert {g["prefix"] for g in groups} == {"А", "Р", "С", "Г"} and menu["priority"]["prefix"] == "П"
        service = next(s for g in groups for s in g["services"] if s["id"] == "id-card")
        assert service["windows"] == [1, 2] and service["estimate"]["text"] == "—"  # no window open yet
        request_id = str(uuid.uuid4())
        first = await kiosk.ask(type="issue", id=request_id, service="id-card", lane="walk_in")
        assert first["type"] == "issued" and first["ticket"]["label"] == "А001" and first["repeat"] is False
        assert first["status_url"].endswith("/queue/ticket/" + first["ticket"]["day"] + "/%D0%90001")
        kiosk.messages.clear()
        again = await kiosk.ask(type="issue", id=request_id, service="id-card", lane="walk_in")
        assert again["repeat"] is True and again["ticket"]["id"] == first["ticket"]["id"]
        refused = await kiosk.ask(type="check_in", code="nope")
        assert refused == {**refused, "type": "refused", "code": "booking_unknown",
                           "message_en": "No booking with this code."}
        assert "NOPE" in refused["message"]
        assert (await kiosk.ask(type="issue", service="id-card", lane="priority", person="h1"))["type"] == "issued"
        limit = await kiosk.ask(type="issue", service="id-card", lane="priority", person="h1")
        assert limit["code"] == "priority_limit"
        assert (await kiosk.ask(type="rate", service="id-card", grade="супер"))["code"] == "grade_invalid"
        assert (await kiosk.ask(type="rate", service="id-card", grade="добре", loyalty=9))["type"] == "rated"
        estimate = await kiosk.ask(type="estimate", service="id-card")
        assert estimate["estimate"]["people_ahead"] == 2
        assert (await kiosk.ask(type="dance"))["code"] == "bad_message"
        state = await cnap.state()
        assert [t["label"] for t in state["tickets"]] == ["А001", "П001"]
    finally:
        await kiosk.close()
