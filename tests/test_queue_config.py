"""The queue role's configuration: the [roles.queue] table, the catalogue file, the day's boundary."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.config import ConfigError, build_section
from kiosk import protocol
from kiosk.errors import ErrorCode
from kiosk.queue.settings import QueueSettings, load_catalogue
from kiosk.queue.demo import write_catalogue
from kiosk.queue.calendar import business_day

KYIV = ZoneInfo("Europe/Kyiv")
GOOD = """windows = [1, 2]
closed_days = ["2026-08-24"]
[hours]
weekdays = ["08:00-13:00", "14:00-17:00"]
sat = ["9:00–14:00"]
[[groups]]
id = "pasp"
title = "Паспорти"
prefix = "А"
[[services]]
id = "id-card"
title = "ID-картка"
group = "pasp"
windows = [1, 2]
typical_minutes = 15
[[services]]
id = "land"
title = "Земля"
group = "pasp"
windows = [2]
hours = { every_day = ["10:00-24:00"] }
"""


def settings(path: Path, **kw: object) -> QueueSettings:
    return build_section(QueueSettings, {"catalogue_file": str(path), **kw}, "node.toml", "roles.queue")


def test_a_catalogue_gives_the_queue_its_services_windows_hours_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(GOOD, encoding="utf-8")
    config = load_catalogue(path, settings(path, carry_over="carry", booking_grace_s=60.0))
    assert config.windows == (1, 2) and config.carry_over.value == "carry"
    assert config.booking_grace.total_seconds() == 60
    assert config.schedule.describe(0) == "08:00–13:00, 14:00–17:00" and config.schedule.describe(5) == "09:00–14:00"
    assert config.schedule.describe(6) == "вихідний"
    assert not config.is_open("id-card", datetime(2026, 8, 24, 10, tzinfo=KYIV))  # a closed day
    assert config.is_open("land", datetime(2026, 3, 1, 23, 59, tzinfo=KYIV))  # "24:00": until midnight, on Sunday too
    assert config.service("id-card").typical_minutes == 15


@pytest.mark.parametrize("change, key, reason", [
    (('prefix = "А"', 'prefix = "З"'), "", "prefix_confusable"),
    (('prefix = "А"', 'prefix = "A"'), "", "prefix_latin"),
    (('windows = [2]\nhours', 'windows = [7]\nhours'), "", "unknown_window"),
    (('weekdays = ["08:00-13:00", "14:00-17:00"]', 'weekdays = ["8 to 5"]'), "hours.weekdays", "not an interval"),
    (('sat = ', 'saturday = '), "hours.saturday", "unknown day"),
    (('typical_minutes = 15', 'typical_minutes = "15"'), "services[0].typical_minutes", "number"),
    (('windows = [1, 2]\nclosed', 'windows = "1,2"\nclosed'), "windows", "list of window numbers"),
    (('title = "Земля"', 'title = "Земля"\ncolour = "green"'), "services[1].colour", "unknown key"),
])
def test_a_wrong_catalogue_is_refused_naming_the_key_and_the_reason(tmp_path: Path, change: tuple[str, str],
                                                                    key: str, reason: str) -> None:
    path = tmp_path / "c.toml"
    assert change[0] in GOOD
    path.write_text(GOOD.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_catalogue(path, settings(path))
    assert caught.value.key == key and reason in caught.value.reason
    assert caught.value.path == str(path)


@pytest.mark.parametrize("table, key", [
    ({"timezone": "Europe/Atlantis"}, "roles.queue.timezone"),
    ({"rollover_at": "3 am"}, "roles.queue.rollover_at"),
    ({"carry_over": "keep"}, "roles.queue.carry_over"),
    ({"recalls_before_no_show": -1}, "roles.queue.recalls_before_no_show"),
    ({"public_url": "cnap.local"}, "roles.queue.public_url"),
])
def test_wrong_role_settings_are_refused(tmp_path: Path, table: dict, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path / "c.toml", **table)
    assert caught.value.key == key


def test_the_demo_catalogue_loads(tmp_path: Path) -> None:
    path = write_catalogue(tmp_path / "demo.toml")
    config = load_catalogue(path, settings(path))
    assert [g.prefix for g in config.groups] == ["А", "Р", "С", "Г"] and config.windows == (1, 2, 3)


@pytest.mark.parametrize("now, day", [
    (datetime(2026, 3, 3, 2, 59, tzinfo=KYIV), date(2026, 3, 2)),  # still the day before until 03:00
    (datetime(2026, 3, 3, 3, 0, tzinfo=KYIV), date(2026, 3, 3)),
    (datetime(2026, 3, 3, 23, 0, tzinfo=KYIV), date(2026, 3, 3)),
])
def test_the_queue_day_changes_at_the_configured_rollover_time(now: datetime, day: date) -> None:
    assert business_day(now, time(3, 0)) == day


def test_every_refusal_code_has_an_english_twin_and_an_http_status() -> None:
    for code in ErrorCode:
        assert protocol.english(code) != "Refused.", code
        assert 400 <= protocol.http_status(code) < 500
    assert protocol.http_status("no_one_waiting") == 409 and protocol.http_status("unknown_service") == 404
    assert protocol.http_status("bad_request") == 400 and protocol.http_status("unauthorized") == 401
