"""The shared helpers of edge/: the time a person sees, stopping tasks, configuration checks.

The zone is checked against a process whose own zone is something else
(``TZ=UTC``, like a board set up from a generic image), so the helper cannot
pass by reading the machine's zone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

import pytest

from edge.clock import Clock, zone
from edge.config import ConfigError, not_negative, parse_node_config, time_of_day, time_of_day_or_empty, time_zone
from edge.tasks import cancel_and_wait


@pytest.fixture
def utc_process(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_now_is_shown_in_the_configured_zone_not_the_boards(utc_process) -> None:
    # 2026-07-01 09:00 UTC is 12:00 in Kyiv (summer, UTC+3); 2026-12-04 09:00 UTC is 11:00 (UTC+2).
    summer = datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc).timestamp()
    winter = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc).timestamp()
    assert Clock("Europe/Kyiv", source=lambda: summer).now().strftime("%H:%M") == "12:00"
    assert Clock("Europe/Kyiv", source=lambda: winter).now().strftime("%H:%M") == "11:00"
    assert datetime.fromtimestamp(winter).strftime("%H:%M") == "09:00"  # what a naive clock would show


def test_now_is_corrected_by_the_hubs_offset_when_there_is_one() -> None:
    base = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc).timestamp()
    offset: list[float | None] = [None]
    clock = Clock("Europe/Kyiv", offset_s=lambda: offset[0], source=lambda: base)
    assert clock.time() == base
    offset[0] = -3 * 3600.0  # the board's clock runs three hours ahead of the hub's
    assert clock.time() == base - 3 * 3600
    assert clock.now().strftime("%H:%M") == "08:00"
    assert clock.local(base).strftime("%H:%M") == "11:00"


def test_an_unknown_zone_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="Europe/Kiev2"):
        zone("Europe/Kiev2")
    assert time_zone("Europe/Kyiv") is None
    assert "Mars/Olympus" in (time_zone("Mars/Olympus") or "")


def test_node_timezone_defaults_to_kyiv_and_a_wrong_one_names_the_key(tmp_path) -> None:
    base = {"node": {"name": "n1", "site": "rada", "roles": ["hall"], "state_dir": str(tmp_path)}}
    assert parse_node_config(base).node.timezone == "Europe/Kyiv"
    with pytest.raises(ConfigError) as err:
        parse_node_config({"node": {**base["node"], "timezone": "Kyiv"}})
    assert err.value.key == "node.timezone"


@pytest.mark.parametrize("value, ok", [("03:00", True), ("23:59", True), ("24:00", False), ("3 am", False), ("", False)])
def test_time_of_day(value: str, ok: bool) -> None:
    assert (time_of_day(value) is None) is ok
    assert time_of_day_or_empty("") is None


def test_not_negative() -> None:
    assert not_negative(0) is None and not_negative(2.5) is None
    assert not_negative(-0.1) == "must not be negative"


async def test_cancel_and_wait_stops_every_task_and_logs_one_that_had_failed(caplog) -> None:
    stopped: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(name)

    async def broken() -> None:
        raise RuntimeError("disk gone")

    tasks = [asyncio.create_task(forever("a")), asyncio.create_task(broken(), name="broken"),
             asyncio.create_task(forever("b"))]
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="edge.tasks"):
        await cancel_and_wait([*tasks, None])
    assert sorted(stopped) == ["a", "b"]
    assert all(t.done() for t in tasks)
    assert any("broken" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_cancel_and_wait_does_not_swallow_the_callers_own_cancellation() -> None:
    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(10)  # slow to stop

    inner = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    outer = asyncio.create_task(cancel_and_wait([inner]))
    await asyncio.sleep(0.01)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    inner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await inner


@pytest.mark.parametrize("cell, written", [
    ("=1+2", "'=1+2"), ("+380501234567", "+380501234567"), ("-5", "-5"), ("@SUM(A1)", "'@SUM(A1)"),
    ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"), ("\tx", "'\tx"), ("Про бюджет", "Про бюджет"), (7, 7),
])
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(cell, written) -> None:
    from edge.csvtext import csv_text, safe_cell
    assert safe_cell(cell) == written
    assert csv_text(["a"], [[cell]]).splitlines()[0] == "a"


@pytest.mark.parametrize("value", [float("inf"), float("nan"), float("-inf")])
def test_toml_infinities_and_nan_are_refused_where_a_number_must_be_finite(tmp_path, value) -> None:
    # TOML writes them as inf and nan; a token lifetime of inf would never expire.
    from edge.config import at_least, parse_hub_config, positive
    assert positive(value) == "must be a finite number"
    assert not_negative(value) == "must be a finite number"
    assert at_least(1)(value) == "must be a finite number"
    with pytest.raises(ConfigError) as err:
        parse_hub_config({"hub": {"state_dir": str(tmp_path), "token_ttl_s": value}})
    assert err.value.key == "hub.token_ttl_s"


def test_the_throttle_counts_per_key_forgets_old_attempts_and_stays_bounded() -> None:
    from edge.hub.throttle import Throttle
    t = Throttle(3, window_s=60, max_keys=100)
    assert [t.allow("10.0.0.5", 0.0) for _ in range(4)] == [True, True, True, False]
    assert t.allow("10.0.0.6", 1.0)  # another address has its own attempts
    assert not t.allow("10.0.0.5", 59.0) and t.allow("10.0.0.5", 60.5)  # the window slides
    for i in range(1000):  # a flood from many addresses
        t.count(f"10.1.{i // 256}.{i % 256}", 61.0)
    assert len(t) == 100
    assert not t.full("10.1.0.0", 61.0)  # the oldest were dropped, not the table grown
