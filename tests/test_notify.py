"""Alerts go out by webhook and Telegram, filtered, retried, failures shown (against local fake endpoints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from edge.config import ConfigError, parse_hub_config
from tests.conftest import HubFixture, wait_until

import pytest


class FakeEndpoint:
    """A webhook receiver and a Telegram Bot API that can be told to fail."""

    def __init__(self) -> None:
        self.webhooks: list[dict[str, Any]] = []
        self.telegram: list[tuple[str, dict[str, Any]]] = []
        self.fail = False

    async def webhook(self, request: web.Request) -> web.Response:
        if self.fail:
            return web.Response(status=500)
        self.webhooks.append(await request.json())
        return web.json_response({"ok": True})

    async def bot(self, request: web.Request) -> web.Response:
        self.telegram.append((request.match_info["token"], await request.json()))
        return web.json_response({"ok": True, "result": {}})


@pytest.fixture
async def endpoint(aiohttp_server: Any) -> tuple[FakeEndpoint, str]:
    fake = FakeEndpoint()
    app = web.Application()
    app.router.add_post("/hook", fake.webhook)
    app.router.add_post("/bot{token}/sendMessage", fake.bot)
    server = await aiohttp_server(app)
    return fake, str(server.make_url("")).rstrip("/")


async def test_alerts_reach_the_webhook_and_telegram_by_severity_with_retries(tmp_path: Path, endpoint,
                                                                             node_factory, caplog) -> None:
    fake, base = endpoint
    token_file = tmp_path / "tg.token"
    token_file.write_text("123456:SECRET-TOKEN\n")
    h = HubFixture(tmp_path)
    h.config_path.write_text(h.config_path.read_text() + f"""
[[notify]]
name = "технік"
kind = "webhook"
url = "{base}/hook"
min_severity = "warning"

[[notify]]
kind = "telegram"
token_file = "{token_file}"
chat_id = "-1001"
api_base = "{base}"
min_severity = "critical"
send_cleared = false
""")
    await h.start()
    try:
        node = await node_factory("power-1", h.url, h.code(role="power"), roles=["power"])
        await wait_until(node.hub.approved.is_set, what="approval")
        fake.fail = True
        await node.outbox.put("alert", {"key": "ups:onbatt", "state": "raised", "severity": "critical",
                                        "message": "ДБЖ працює від батареї", "message_en": "UPS on battery"})
        await node.outbox.put("alert", {"key": "fuel:low", "state": "raised", "severity": "info",
                                        "message": "Мало пального", "message_en": "Fuel low"})
        await wait_until(lambda: fake.telegram, timeout=15, what="telegram message")
        token, msg = fake.telegram[0]
        assert token == "123456:SECRET-TOKEN" and msg["chat_id"] == "-1001" and "ДБЖ працює від батареї" in msg["text"]
        await wait_until(lambda: h.query("SELECT last_error FROM notify_deliveries WHERE channel = 'технік'"
                                         " AND last_error IS NOT NULL"), timeout=15, what="a failed webhook recorded")
        failures = h.query("SELECT a.message FROM notify_deliveries d JOIN alerts a ON a.id = d.alert_id"
                           " WHERE d.delivered_at IS NULL")
        assert failures == [("ДБЖ працює від батареї",)], "the info alert goes to no channel"
        fake.fail = False
        h.query("UPDATE notify_deliveries SET next_ts = 0")  # no need to wait the backoff out in a test
        await wait_until(lambda: fake.webhooks, timeout=15, what="webhook after the retry")
        assert fake.webhooks[0]["change"] == "raised" and fake.webhooks[0]["alert"]["severity"] == "critical"
        await node.outbox.put("alert", {"key": "ups:onbatt", "state": "cleared"})
        await wait_until(lambda: len(fake.webhooks) == 2, timeout=15, what="cleared by webhook")
        assert fake.webhooks[1]["change"] == "cleared"
        assert len(fake.telegram) == 1, "this telegram channel does not send clears"
    finally:
        await h.stop()
    assert "SECRET-TOKEN" not in caplog.text


def test_a_channel_without_its_essentials_is_refused(tmp_path: Path) -> None:
    base = {"hub": {"state_dir": str(tmp_path)}}
    with pytest.raises(ConfigError) as err:
        parse_hub_config({**base, "notify": [{"kind": "webhook"}]}, "hub.toml")
    assert err.value.key == "notify[0].url"
    with pytest.raises(ConfigError) as err:
        parse_hub_config({**base, "notify": [{"kind": "pigeon"}]}, "hub.toml")
    assert err.value.key == "notify[0].kind"
