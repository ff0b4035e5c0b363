"""Alerts sent out: webhooks and a Telegram bot, by severity and site, retried.

Each alert that opens (and closes) becomes one delivery row per matching
channel in the hub's database, so a hub restart loses none; deliveries are
retried with growing waits, and the last error of an undelivered one is
shown beside its alert on the dashboard. Secrets (the bot token) come from a
file and never appear in logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from edge.config import ConfigError, http_url, one_of, option
from edge.timeutil import iso_utc

log = logging.getLogger("hromada.hub.notify")

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifySection:
    """`[[notify]]` in the hub's file: one channel alerts go out on."""

    name: str = option("", "Name of the channel (shown on the dashboard); default: kind and position.")
    kind: str = option("webhook", "`webhook` (JSON POST) or `telegram` (Bot API sendMessage).",
                       one_of("webhook", "telegram"))
    url: str = option("", "Webhook: the URL the JSON is POSTed to.", http_url)
    token_file: str = option("", "Telegram: file holding the bot token (kept out of the configuration and logs).")
    chat_id: str = option("", "Telegram: the chat the bot writes to.")
    api_base: str = option("https://api.telegram.org", "Telegram: Bot API base URL.", http_url)
    min_severity: str = option("warning", "Send alerts of this severity and above: info, warning, critical.",
                               one_of("info", "warning", "critical"))
    sites: tuple[str, ...] = option((), "Only alerts of these sites; empty: every site.")
    send_cleared: bool = option(True, "Also say when an alert clears.")


def check_channels(channels: tuple[NotifySection, ...], path: str) -> None:
    for i, ch in enumerate(channels):
        key = f"notify[{i}]"
        if ch.kind == "webhook" and not ch.url:
            raise ConfigError(path, f"{key}.url", "a webhook needs a url")
        if ch.kind == "telegram" and (not ch.token_file or not ch.chat_id):
            raise ConfigError(path, f"{key}.token_file", "a telegram channel needs token_file and chat_id")


def channel_name(ch: NotifySection, index: int) -> str:
    return ch.name or f"{ch.kind}-{index + 1}"


def text_of(alert: dict[str, Any], change: str) -> str:
    mark = {"critical": "🔴", "warning": "🟠", "info": "🔵"}.get(alert["severity"], "")
    head = "Тривога" if change == "raised" else "Знято"
    where = f"{alert.get('site') or '—'} / {alert.get('node') or alert.get('node_id') or 'хаб'}"
    return f"{mark} {head}: {alert['message']}\n{where}\n{alert.get('message_en') or ''}".strip()


class AlertNotifier:
    """Turns alerts into deliveries and delivers them."""

    def __init__(self, hub: Any, channels: tuple[NotifySection, ...]) -> None:
        self.hub = hub
        self.channels = {channel_name(ch, i): ch for i, ch in enumerate(channels)}
        self._last_alert_id = 0
        self._last_cleared: str = ""

    async def run(self) -> None:
        if not self.channels:
            return
        self._last_alert_id, self._last_cleared = await self.hub.store.run(lambda db: (
            db.execute("SELECT coalesce(max(alert_id), 0) FROM notify_deliveries").fetchone()[0],
            iso_utc()))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                try:
                    await self.hub.store.write(self._plan)
                    await self._deliver_due(session)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("notification round failed")
                await asyncio.sleep(1.0)

    def _matches(self, ch: NotifySection, alert: dict[str, Any]) -> bool:
        return (SEVERITY_RANK[alert["severity"]] >= SEVERITY_RANK[ch.min_severity]
                and (not ch.sites or alert.get("site") in ch.sites))

    def _plan(self, conn: Any) -> None:
        """Add delivery rows for alerts raised or cleared since the last look."""
        keys = ["id", "severity", "site", "cleared_at"]
        new = [dict(zip(keys, r)) for r in conn.execute(
            "SELECT id, severity, site, cleared_at FROM alerts WHERE id > ? ORDER BY id", (self._last_alert_id,))]
        cleared = [dict(zip(keys, r)) for r in conn.execute(
            "SELECT id, severity, site, cleared_at FROM alerts WHERE cleared_at IS NOT NULL AND cleared_at > ?"
            " AND id <= ?", (self._last_cleared, self._last_alert_id))]
        for alert in new:
            self._last_alert_id = max(self._last_alert_id, alert["id"])
            for name, ch in self.channels.items():
                if self._matches(ch, alert):
                    conn.execute("INSERT OR IGNORE INTO notify_deliveries (alert_id, change, channel) VALUES (?, ?, ?)",
                                 (alert["id"], "raised", name))
        for alert in cleared + [a for a in new if a["cleared_at"]]:
            self._last_cleared = max(self._last_cleared, alert["cleared_at"])
            for name, ch in self.channels.items():
                if ch.send_cleared and self._matches(ch, alert):
                    conn.execute("INSERT OR IGNORE INTO notify_deliveries (alert_id, change, channel) VALUES (?, ?, ?)",
                                 (alert["id"], "cleared", name))

    async def _deliver_due(self, session: aiohttp.ClientSession) -> None:
        now = time.time()
        due = await self.hub.store.run(lambda db: db.execute(
            "SELECT d.id, d.alert_id, d.change, d.channel, d.attempts, a.severity, a.message, a.message_en, a.site,"
            " n.name, a.node_id, a.raised_at, a.kind FROM notify_deliveries d JOIN alerts a ON a.id = d.alert_id"
            " LEFT JOIN nodes n ON n.node_id = a.node_id WHERE d.delivered_at IS NULL AND d.next_ts <= ?"
            " ORDER BY d.id LIMIT 20", (now,)).fetchall())
        for (did, alert_id, change, channel, attempts, severity, message, message_en, site, node, node_id,
             raised_at, kind) in due:
            ch = self.channels.get(channel)
            if ch is None:
                continue
            alert = {"id": alert_id, "severity": severity, "message": message, "message_en": message_en,
                     "site": site, "node": node, "node_id": node_id, "raised_at": raised_at, "kind": kind}
            try:
                await self._send(session, ch, alert, change)
            except Exception as exc:  # any failure: record it, retry later
                reason = f"{type(exc).__name__}: {exc}"[:200]
                wait = min(3600.0, 5.0 * 2 ** attempts)
                log.warning("notification %s via %s failed (%s); retry in %.0f s", did, channel, reason, wait)
                await self.hub.store.write(lambda conn: conn.execute(
                    "UPDATE notify_deliveries SET attempts = attempts + 1, next_ts = ?, last_error = ? WHERE id = ?",
                    (time.time() + wait, reason, did)))
                self.hub.dashboard.publish("alerts")
            else:
                await self.hub.store.write(lambda conn: conn.execute(
                    "UPDATE notify_deliveries SET attempts = attempts + 1, delivered_at = ?, last_error = NULL"
                    " WHERE id = ?", (iso_utc(), did)))

    async def _send(self, session: aiohttp.ClientSession, ch: NotifySection, alert: dict[str, Any],
                    change: str) -> None:
        if ch.kind == "webhook":
            body = {"change": change, "alert": alert, "text": text_of(alert, change)}
            async with session.post(ch.url, json=body) as resp:
                if resp.status >= 300:
                    raise RuntimeError(f"HTTP {resp.status}")
            return
        token = Path(ch.token_file).read_text(encoding="utf-8").strip()
        url = f"{ch.api_base.rstrip('/')}/bot{token}/sendMessage"
        async with session.post(url, json={"chat_id": ch.chat_id, "text": text_of(alert, change)}) as resp:
            data = json.loads(await resp.text() or "{}")
            if resp.status >= 300 or not data.get("ok"):
                # Never log the URL: it carries the token.
                raise RuntimeError(f"Telegram answered HTTP {resp.status}: {str(data.get('description', ''))[:100]}")
