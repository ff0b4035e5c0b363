"""Signed requests at the hub: anything not signed right is refused and nothing is stored."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from edge.identity import H_SIG, H_TIME, Identity, check_response
from edge.timeutil import iso_utc, uuid7
from tests.conftest import HubFixture, wait_until


def batch(n: int = 3, kind: str = "node.test.reading") -> bytes:
    msgs = [{"msg_id": uuid7(), "kind": kind, "priority": 2, "created_at": iso_utc(), "payload": {"i": i}}
            for i in range(n)]
    return json.dumps({"messages": msgs}).encode()


async def post(hub: HubFixture, path: str, body: bytes, headers: dict[str, str],
               content_type: str = "application/json") -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s:
        async with s.post(hub.url + path, data=body, headers={**headers, "Content-Type": content_type}) as r:
            return r.status, await r.json(content_type=None)


@pytest.fixture
async def enrolled(hub: HubFixture, node_factory) -> Identity:
    node = await node_factory("hall-1", hub.url, hub.code(role="hall"))
    await wait_until(node.hub.approved.is_set, what="approval")
    await wait_until(lambda: hub.query("SELECT count(*) FROM events")[0][0] >= 1, what="node.started stored")
    # Stop the node's own traffic so counts below are ours alone.
    await node.stop()
    return node.identity


def events(hub: HubFixture) -> int:
    return hub.query("SELECT count(*) FROM events")[0][0]


async def test_a_well_signed_batch_is_stored_and_the_answer_is_signed_by_the_hub(hub, enrolled) -> None:
    body = batch(3)
    before = events(hub)
    headers = enrolled.sign_request("POST", "/api/v1/ingest", body, time.time())
    async with aiohttp.ClientSession() as s:
        async with s.post(hub.url + "/api/v1/ingest", data=body,
                          headers={**headers, "Content-Type": "application/json"}) as r:
            raw = await r.read()
            assert r.status == 200
            check_response(hub.hub.identity.public_key_b64, headers["X-Hromada-Nonce"], r.status, r.headers, raw)
    assert json.loads(raw)["stored"] == 3
    assert events(hub) == before + 3


async def test_the_same_batch_sent_twice_is_stored_once(hub, enrolled) -> None:
    body = batch(5)
    before = events(hub)
    for _ in range(2):
        status, answer = await post(hub, "/api/v1/ingest", body,
                                    enrolled.sign_request("POST", "/api/v1/ingest", body, time.time()))
        assert status == 200
    assert answer == {"stored": 0, "duplicates": 5, "rejected": []}
    assert events(hub) == before + 5


async def test_tampered_body_is_refused(hub, enrolled) -> None:
    body = batch(2)
    headers = enrolled.sign_request("POST", "/api/v1/ingest", body, time.time())
    tampered = body.replace(b'"i": 0', b'"i": 9')
    before = events(hub)
    status, answer = await post(hub, "/api/v1/ingest", tampered, headers)
    assert status == 401 and answer["error"]["code"] == "signature"
    assert "bad signature" in answer["error"]["message"]
    assert events(hub) == before


async def test_replayed_request_is_refused(hub, enrolled) -> None:
    body = batch(1)
    headers = enrolled.sign_request("POST", "/api/v1/ingest", body, time.time())
    status, _ = await post(hub, "/api/v1/ingest", body, headers)
    assert status == 200
    before = events(hub)
    status, answer = await post(hub, "/api/v1/ingest", batch(0), headers)
    assert status == 401  # signature no longer matches another body
    status, answer = await post(hub, "/api/v1/ingest", body, headers)
    assert status == 401 and answer["error"]["code"] == "replay"
    assert events(hub) == before


@pytest.mark.parametrize("skew", [-600.0, 600.0])
async def test_request_from_a_clock_too_far_off_is_refused(hub, enrolled, skew: float) -> None:
    body = batch(1)
    before = events(hub)
    status, answer = await post(hub, "/api/v1/ingest", body,
                                enrolled.sign_request("POST", "/api/v1/ingest", body, time.time() + skew))
    assert status == 401 and "stale" in answer["error"]["message"]
    assert events(hub) == before


async def test_unsigned_request_is_refused(hub, enrolled) -> None:
    status, answer = await post(hub, "/api/v1/ingest", batch(1), {})
    assert status == 401 and "unsigned" in answer["error"]["message"]


async def test_signature_by_an_unknown_key_is_refused(hub, enrolled, tmp_path) -> None:
    stranger = Identity.load_or_create(tmp_path / "stranger")
    body = batch(1)
    before = events(hub)
    status, answer = await post(hub, "/api/v1/ingest", body,
                                stranger.sign_request("POST", "/api/v1/ingest", body, time.time()))
    assert status == 403 and answer["error"]["code"] == "unknown_node"
    assert events(hub) == before


async def test_a_node_cannot_sign_as_another(hub, enrolled, tmp_path) -> None:
    stranger = Identity.load_or_create(tmp_path / "stranger")
    body = batch(1)
    headers = stranger.sign_request("POST", "/api/v1/ingest", body, time.time())
    headers["X-Hromada-Node"] = enrolled.id
    status, answer = await post(hub, "/api/v1/ingest", body, headers)
    assert status == 401 and "bad signature" in answer["error"]["message"]


@pytest.mark.parametrize("body, code", [
    (b"{not json", "bad_json"),
    (b"\xff\xfe", "bad_json"),
    (b'{"messages": 5}', "bad_request"),
    (b"[]", "bad_request"),
])
async def test_malformed_bodies_are_refused_with_400(hub, enrolled, body: bytes, code: str) -> None:
    before = events(hub)
    status, answer = await post(hub, "/api/v1/ingest", body,
                                enrolled.sign_request("POST", "/api/v1/ingest", body, time.time()))
    assert status == 400 and answer["error"]["code"] == code
    assert events(hub) == before


async def test_wrong_content_type_is_refused_with_415(hub, enrolled) -> None:
    body = batch(1)
    status, answer = await post(hub, "/api/v1/ingest", body,
                                enrolled.sign_request("POST", "/api/v1/ingest", body, time.time()),
                                content_type="text/plain")
    assert status == 415
    assert events(hub) == hub.query("SELECT count(*) FROM events")[0][0]


async def test_oversized_body_is_refused_with_413(hub, enrolled) -> None:
    big = json.dumps({"messages": [], "pad": "x" * (5 * 1024 * 1024)}).encode()
    before = events(hub)
    status, answer = await post(hub, "/api/v1/ingest", big,
                                enrolled.sign_request("POST", "/api/v1/ingest", big, time.time()))
    assert status == 413
    assert events(hub) == before


async def test_invalid_messages_are_rejected_by_id_and_the_rest_stored(hub, enrolled) -> None:
    good = {"msg_id": uuid7(), "kind": "node.test.ok", "priority": 1, "created_at": iso_utc(), "payload": {}}
    bad = [
        {"msg_id": "not-a-uuid", "kind": "x", "priority": 1, "created_at": iso_utc(), "payload": {}},
        {"msg_id": uuid7(), "kind": "Bad Kind!", "priority": 1, "created_at": iso_utc(), "payload": {}},
        {"msg_id": uuid7(), "kind": "x", "priority": 7, "created_at": iso_utc(), "payload": {}},
        {"msg_id": uuid7(), "kind": "x", "priority": 1, "created_at": "yesterday", "payload": {}},
        {"msg_id": uuid7(), "kind": "x", "priority": 1, "created_at": iso_utc(), "payload": []},
        {"msg_id": uuid7(), "kind": "alert", "priority": 0, "created_at": iso_utc(), "payload": {"key": "k"}},
    ]
    body = json.dumps({"messages": [good, *bad]}).encode()
    before = events(hub)
    status, answer = await post(hub, "/api/v1/ingest", body,
                                enrolled.sign_request("POST", "/api/v1/ingest", body, time.time()))
    assert status == 200
    assert answer["stored"] == 1 and len(answer["rejected"]) == len(bad)
    assert events(hub) == before + 1


async def test_alert_messages_open_and_close_one_alert_even_when_resent(hub, enrolled) -> None:
    raise_msg = {"msg_id": uuid7(), "kind": "alert", "priority": 0, "created_at": iso_utc(),
                 "payload": {"key": "ups:onbatt", "state": "raised", "severity": "critical",
                             "message": "ДБЖ працює від батареї", "message_en": "UPS on battery"}}
    for _ in range(2):
        body = json.dumps({"messages": [raise_msg]}).encode()
        await post(hub, "/api/v1/ingest", body, enrolled.sign_request("POST", "/api/v1/ingest", body, time.time()))
    assert hub.query("SELECT count(*) FROM alerts WHERE cleared_at IS NULL") == [(1,)]
    clear = {**raise_msg, "msg_id": uuid7(), "payload": {"key": "ups:onbatt", "state": "cleared"}}
    body = json.dumps({"messages": [clear]}).encode()
    await post(hub, "/api/v1/ingest", body, enrolled.sign_request("POST", "/api/v1/ingest", body, time.time()))
    assert hub.query("SELECT count(*) FROM alerts WHERE cleared_at IS NULL") == [(0,)]
    assert hub.query("SELECT message FROM alerts") == [("ДБЖ працює від батареї",)]


async def test_unsigned_websocket_is_refused(hub, enrolled) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(hub.url.replace("http", "ws") + "/api/v1/ws")
    assert err.value.status == 401


async def test_signature_header_of_another_path_does_not_verify(hub, enrolled) -> None:
    body = batch(1)
    headers = enrolled.sign_request("POST", "/api/v1/heartbeat", body, time.time())
    status, _ = await post(hub, "/api/v1/ingest", body, headers)
    assert status == 401
    assert H_SIG in headers and H_TIME in headers
