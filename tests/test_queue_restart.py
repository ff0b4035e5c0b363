"""The queue across restarts: killed mid-day and restored; a scripted day's statistics after rollover.

The restart runs the queue as its own ``hromada node`` process and kills it
with SIGKILL, as a power cut would; everything acknowledged before must be
there after. The scripted day is written with the pure model at chosen
times, then a real node starts on it, rolls over to today and reports.
"""

from __future__ import annotations

import csv
import io
import json
import signal
from datetime import date, datetime, time, timedelta
from pathlib import Path

from edge.store import connect, migrate, transaction
from kiosk.queue import records as journal
from kiosk.queue.model import Queue
from kiosk.queue.settings import QueueSettings, load_catalogue
from kiosk.queue.stats import Feedback, Grade
from tests.conftest import HubFixture, free_port, healthy, wait_until
from tests.test_queue_service import KYIV, Cnap, queue_settings


def node_file(tmp: Path, hub: HubFixture, port: int, **extra: object) -> Path:
    path = tmp / "cnap-queue.toml"
    path.write_text(
        f'[node]\nname = "cnap-queue"\nsite = "cnap"\nroles = ["queue"]\nstate_dir = "{tmp / "cnap-queue"}"\n'
        f'port = {port}\n[hub]\nurl = "{hub.url}"\nenrollment_code = "{hub.code(role="queue", site="cnap")}"\n'
        f"[discovery]\nenabled = false\n" + queue_settings(tmp, **extra), encoding="utf-8")
    return path


async def test_a_queue_killed_mid_day_restores_every_ticket_window_and_call(hub: HubFixture, procs,
                                                                           tmp_path: Path) -> None:
    port = free_port()
    config = node_file(tmp_path, hub, port)
    cnap = Cnap(f"http://127.0.0.1:{port}", tmp_path / "cnap-queue")
    first = procs(["node", "--config", str(config)], tmp_path / "queue-1.log")
    await wait_until(lambda: healthy(cnap.url), timeout=30, what="queue process up")
    assert (cnap.state_dir / "staff.token").exists(), (
        "the queue role did not start: is it in edge.roles.ROLE_FACTORIES?\n" + first.output()[-2000:])
    for n in (1, 2, 3):
        await cnap.act(n, "open")
    for service in ("id-card", "id-card", "residence", "subsidy", "land-extract"):
        await cnap.issue(service)
    await cnap.issue("id-card", lane="priority", person="h-9")
    await cnap.serve(1)                                   # П001 served at window 1
    await cnap.act(1, "call-next")
    await cnap.act(1, "start")                            # А001 being served at window 1
    await cnap.act(2, "call-next")
    await cnap.act(2, "recall")                           # А002 called once again at window 2
    await cnap.act(3, "pause", reason="обідня перерва")   # window 3 on a break
    before = await cnap.state()
    board_before = (await cnap.ok("GET", "board"))["calls"]
    window_before = await cnap.ok("GET", "windows/2")

    first.signal(signal.SIGKILL)
    first.p.wait(10)
    second = procs(["node", "--config", str(config)], tmp_path / "queue-2.log")
    await wait_until(lambda: healthy(cnap.url), timeout=30, what="queue process up again")

    assert await cnap.state() == before
    assert (await cnap.ok("GET", "board"))["calls"] == board_before
    assert await cnap.ok("GET", "windows/2") == window_before
    # The state is served as soon as it is rebuilt; the log line follows a few reads later.
    await wait_until(lambda: "restored" in second.output(), timeout=10, what="the restore logged")
    # The day goes on where it stopped: numbers continue, the recall count holds, the visitor is finished.
    assert (await cnap.issue("id-card"))["label"] == "А003"
    assert (await cnap.act(1, "finish"))["ticket"]["label"] == "А001"
    await cnap.act(2, "recall")
    assert (await cnap.act(2, "no-show"))["ticket"]["state"] == "no_show"
    status, answer = await cnap.staff("POST", "windows/3/call-next", {})
    assert answer["error"]["code"] == "window_not_open"
    await cnap.act(3, "resume")
    assert (await cnap.act(3, "call-next"))["ticket"]["label"] == "Р001"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), KYIV)


def script_day(tmp: Path, day: date) -> None:
    """Write a day of the queue at known times into the node's database, as the role would have."""
    settings = QueueSettings(catalogue_file=str(tmp / "catalogue.toml"), carry_over="carry")
    config = load_catalogue(settings.catalogue_file, settings)
    events: list = []
    q = Queue.open(config, day, at(day, 7, 50), journal=events.append)
    for n in (1, 2, 3):
        q.open_window(n, at(day, 8))
    q.issue_walk_in("id-card", at(day, 8, 0))
    q.issue_walk_in("id-card", at(day, 8, 5))
    q.call_next(1, at(day, 8, 10)), q.start(1, at(day, 8, 11)), q.finish(1, at(day, 8, 26))
    q.call_next(1, at(day, 8, 26)), q.start(1, at(day, 8, 27)), q.finish(1, at(day, 8, 37))
    q.issue_walk_in("residence", at(day, 9, 0))
    q.call_next(2, at(day, 9, 2)), q.recall(2, at(day, 9, 4)), q.recall(2, at(day, 9, 5))
    q.mark_no_show(2, at(day, 9, 6))
    q.issue_priority("subsidy", at(day, 10, 0))
    q.call_next(3, at(day, 10, 1)), q.start(3, at(day, 10, 2))
    q.redirect(3, at(day, 10, 10), to_service="land-extract", comment="потрібен витяг")
    q.call_next(3, at(day, 10, 15)), q.start(3, at(day, 10, 16)), q.finish(3, at(day, 10, 20))
    q.issue_walk_in("id-card", at(day, 16, 50))  # nobody served it: carried to the next day
    (tmp / "cnap-queue").mkdir(parents=True)
    db = connect(tmp / "cnap-queue" / "node.sqlite")
    migrate(db, journal.MIGRATIONS)
    with transaction(db) as conn:
        journal.append(conn, day, events)
        for minute, grade, loyalty in ((30, Grade.EXCELLENT, 10), (40, Grade.GOOD, 9), (45, Grade.POOR, 6),
                                       (50, None, 8)):
            journal.add_feedback(conn, Feedback(at(day, 8, minute), "id-card", 1, None, grade, loyalty), day, "kiosk")
    db.close()


async def test_a_scripted_day_gives_its_statistics_and_the_next_start_rolls_over_carrying_the_unserved(
        hub: HubFixture, node_factory, tmp_path: Path) -> None:
    day = datetime.now(KYIV).date() - timedelta(days=3)
    settings = queue_settings(tmp_path, carry_over="carry")
    script_day(tmp_path, day)
    node = await node_factory("cnap-queue", hub.url, hub.code(role="queue", site="cnap"), roles=["queue"],
                              site="cnap", extra=settings)
    cnap = Cnap(node.server.url, node.config.state_dir)
    stats = await cnap.ok("GET", f"stats?day={day.isoformat()}")
    assert (stats["issued"], stats["served"], stats["no_shows"]) == (5, 3, 1)
    by_service = {r["key"]: r for r in stats["by_service"]}
    assert by_service["id-card"] | {} == {"key": "id-card", "visits": 3, "served": 2, "no_shows": 0, "redirected": 0,
                                         "mean_wait_s": 930, "max_wait_s": 1260, "mean_service_s": 750,
                                         "max_service_s": 900}
    assert (by_service["residence"]["no_shows"], by_service["residence"]["mean_wait_s"]) == (1, 120)
    assert (by_service["subsidy"]["redirected"], by_service["subsidy"]["mean_service_s"]) == (1, 480)
    assert (by_service["land-extract"]["mean_wait_s"], by_service["land-extract"]["mean_service_s"]) == (300, 240)
    assert [(r["key"], r["visits"]) for r in stats["by_window"]] == [("1", 2), ("2", 1), ("3", 2)]
    assert stats["peak_hours"][0] == {"hour": "08:00", "arrivals": 2}
    assert stats["loyalty_index"] == 25.0 and stats["feedback"][0]["mean_points"] == 3.67
    status, text = await cnap.staff("GET", f"stats.csv?day={day.isoformat()}&what=service")
    assert status == 200 and text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["послуга", "талонів", "обслуговано"]
    assert ["id-card", "3", "2", "0", "0", "930", "1260", "750", "900"] in rows
    # The node found a past day and rolled over at start: the unserved ticket waits today with its number.
    state = await cnap.state()
    assert state["day"] == datetime.now(KYIV).date().isoformat()
    assert [(t["id"], t["state"]) for t in state["tickets"]] == [(f"{day.isoformat()}/А003", "waiting")]
    assert (await cnap.issue("id-card"))["label"] == "А004"  # a carried ticket's number is never reused
    summary = await wait_until(lambda: hub.query("SELECT payload FROM events WHERE kind = 'queue.day'"), timeout=15,
                               what="the day's figures at the hub")
    figures = json.loads(summary[0][0])
    assert figures["day"] == day.isoformat() and figures["served"] == 3 and figures["loyalty_index"] == 25.0
