"""The kiosk role against a real queue and hub on loopback, touched through injected SDL events.

Each test walks the screens the way a visitor does (finger events *and*
SDL's synthesized mouse events are posted for every tap) and checks what a
visitor, a technician or the queue would notice: the printed receipt, the
number on screen, alerts at the hub, tickets and ratings at the queue.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from kiosk.terminal.model import Screen  # noqa: E402
from kiosk.terminal.escpos import ticket_bitmap  # noqa: E402
from kiosk.terminal.service import Kiosk, ticket_slip  # noqa: E402
from kiosk.terminal.sim import TouchInjector, take_ticket, wait_screen  # noqa: E402
from kiosk.terminal.hardware import PrinterState  # noqa: E402
from kiosk.terminal.sim_printer import SimState  # noqa: E402
from tests.conftest import HubFixture, free_port, wait_until  # noqa: E402
from tests.test_queue_service import Cnap, cnap  # noqa: E402,F401 (fixture)

UKRAINIAN = "іїєґ"


def kiosk_settings(tmp: Path, queue_url: str, **extra: Any) -> str:
    values = {"queue_url": queue_url, "printer": "sim", "printer_profile": "epson-80-cp1251", "width": 1280,
              "height": 720, "panel_width_mm": 344.0, "panel_height_mm": 194.0, "fullscreen": False,
              "png_dir": str(tmp / "kiosk-png"), "audio": "off", "queue_alert_s": 1.0, "write_timeout_s": 1.0,
              **extra}

    def toml(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return f'"{v}"' if isinstance(v, str) else repr(v)
    return "[roles.kiosk]\n" + "\n".join(f"{k} = {toml(v)}" for k, v in values.items()) + "\n"


async def start_kiosk(hub: HubFixture, node_factory, tmp: Path, queue_url: str, name: str = "cnap-kiosk",
                      **extra: Any) -> tuple[Kiosk, TouchInjector]:
    node = await node_factory(name, hub.url, hub.code(role="kiosk", site="cnap"), roles=["kiosk"], site="cnap",
                              extra=kiosk_settings(tmp, queue_url, **extra))
    kiosk = next(r for r in node.roles if r.name == "kiosk")
    assert isinstance(kiosk, Kiosk)
    return kiosk, TouchInjector(kiosk.screen)


@pytest.fixture
async def connected(hub: HubFixture, cnap: Cnap, node_factory, tmp_path: Path, request):
    extra = getattr(request, "param", {})
    kiosk, touch = await start_kiosk(hub, node_factory, tmp_path, cnap.url, **extra)
    await wait_until(lambda: kiosk.flow.connected and kiosk.flow.menu, timeout=15, what="kiosk has the menu")
    await wait_screen(kiosk, Screen.START if extra.get("mode") != "rating" else Screen.GROUPS)
    return kiosk, touch


def open_hub_alerts(hub: HubFixture, what: str) -> list[tuple[str, str, str]]:
    return hub.query("SELECT dedup_key, severity, message FROM alerts WHERE cleared_at IS NULL AND dedup_key LIKE ?",
                     f"%kiosk:%:{what}")


@pytest.mark.parametrize("connected", [{"printer_profile": p} for p in ("epson-80-cp1251", "epson-80-cp1125",
                                                                         "raster-80")],
                         indirect=True, ids=["cp1251", "cp1125", "raster"])
async def test_a_ticket_taken_by_touch_is_printed_with_ukrainian_letters_and_a_qr_to_its_status_page(
        connected, cnap: Cnap) -> None:
    kiosk, touch = connected
    await take_ticket(kiosk, touch, "residence")  # «Реєстрація місця проживання»: є, і
    await wait_screen(kiosk, Screen.TICKET)
    receipt = (await asyncio.to_thread(kiosk.sim_printer.wait_for_receipts, 1))[0]
    await wait_until(lambda: kiosk.flow.print_status == "printed", what="print confirmed")
    label = kiosk.flow.issued["ticket"]["label"]
    assert label == "Р001"
    layout = kiosk.screen.last_layout
    assert layout.find("Р001") and layout.find("Перед вами") and layout.find("Вікна")
    assert receipt.qr_payloads == [] or receipt.qr_payloads[0].endswith("/queue/ticket/" + kiosk.flow.issued[
        "ticket"]["day"] + "/%D0%A0001")
    if kiosk.profile.raster_text:
        assert receipt.images and receipt.images[0].shape[1] == kiosk.profile.dots_per_line
        assert not receipt.text.strip()  # no text: nothing depends on a code page
        text = ""
    else:
        text = receipt.text
        assert receipt.code_pages and set(receipt.code_pages) == {kiosk.profile.code_page}
        assert "Р001" in text and "Реєстрація місця проживання" in text and "Ви наступні" in text
        assert "ЦНАП Тестівської громади" in text  # ї
        assert len(receipt.qr_payloads) == 1
    # і ї є ґ: the catalogue has no ґ, so a slip that carries all four goes the same way to the printer.
    issued = {**kiosk.flow.issued, "ticket": {**kiosk.flow.issued["ticket"], "service_title": "Ґанок: ґрунт, єдність і їжа"}}
    slip = ticket_slip(issued, kiosk.flow.menu, datetime(2026, 3, 3, 9, 15))
    assert (await kiosk.printer.print_ticket_async(slip)).printed
    second = (await asyncio.to_thread(kiosk.sim_printer.wait_for_receipts, 2))[1]
    if kiosk.profile.raster_text:  # the decoded image is exactly the text drawn with the bundled font
        assert (second.images[0] == ticket_bitmap(slip, kiosk.profile)).all()
    else:
        assert all(ch in second.text for ch in UKRAINIAN) and "Ґанок" in second.text, second.text
    state = await cnap.state()
    assert [t["label"] for t in state["tickets"]] == ["Р001"]
    assert kiosk.health()["tickets_issued"] == 1 and kiosk.health()["printer"] == "ok"


async def test_a_double_tap_on_a_service_issues_one_ticket_and_a_tap_counts_once(connected, cnap: Cnap) -> None:
    kiosk, touch = connected
    await take_ticket(kiosk, touch, "id-card", settle_s=0.7)
    await asyncio.sleep(0.05)
    touch.tap(kiosk.screen.last_layout.button("service:id-card").rect.center if kiosk.screen.last_layout.screen ==
              "services" else touch.where("lang"))  # the second tap of the double tap
    await wait_screen(kiosk, Screen.TICKET)
    await asyncio.sleep(1.0)
    assert [t["label"] for t in (await cnap.state())["tickets"]] == ["А001"]
    assert kiosk.flow.tickets_issued == 1
    assert kiosk.screen.ignored_mouse >= 2 * kiosk.screen.taps  # every synthesized mouse down/up was ignored
    assert len(kiosk.sim_printer.wait_for_receipts(1)) == 1


@pytest.mark.parametrize("state", [SimState.PAPER_OUT, SimState.NO_ANSWER])
async def test_when_the_printer_cannot_print_the_number_is_shown_large_and_technicians_are_alerted(
        hub: HubFixture, connected, cnap: Cnap, state: SimState) -> None:
    kiosk, touch = connected
    kiosk.sim_printer.state = state
    await take_ticket(kiosk, touch, "id-card")
    await wait_until(lambda: kiosk.flow.print_status == "failed", what="print refused")
    await wait_screen(kiosk, Screen.TICKET)
    layout = kiosk.screen.last_layout
    number = layout.find("А001")[0]
    assert layout.big_number == "А001" and number.cap_px >= 720 * 0.25  # ≥ a quarter of the screen
    assert layout.find("Талон не надруковано")
    expected = PrinterState.PAPER_OUT if state is SimState.PAPER_OUT else PrinterState.NO_ANSWER
    assert layout.find(expected.uk)
    alerts = await wait_until(lambda: open_hub_alerts(hub, "printer"), timeout=15, what="printer alert at the hub")
    assert alerts[0][1] == "critical" and expected.uk in alerts[0][2]
    assert kiosk.sim_printer.receipts == [] or state is SimState.NO_ANSWER
    # The queue knows the ticket: the visitor keeps their place.
    assert [t["label"] for t in (await cnap.state())["tickets"]] == ["А001"]
    # Paper back in: the next ticket prints and the alert clears.
    kiosk.sim_printer.state = SimState.PAPER_NEAR_END
    await asyncio.sleep(0.65)  # a tap this soon after the screen appeared would be taken as a double tap
    touch.tap_button("done")
    await take_ticket(kiosk, touch, "id-card")
    await wait_until(lambda: kiosk.flow.print_status == "printed", what="printed again")
    await wait_until(lambda: not open_hub_alerts(hub, "printer"), timeout=15, what="printer alert cleared")
    near = await wait_until(lambda: open_hub_alerts(hub, "printer-paper"), timeout=15, what="paper low alert")
    assert near[0][1] == "warning"


async def test_a_kiosk_without_its_queue_says_so_issues_nothing_and_alerts_the_hub(
        hub: HubFixture, node_factory, tmp_path: Path) -> None:
    kiosk, _ = await start_kiosk(hub, node_factory, tmp_path, f"http://127.0.0.1:{free_port()}")
    await wait_screen(kiosk, Screen.OFFLINE)
    layout = kiosk.screen.last_layout
    assert layout.find("Немає зв’язку з чергою") and {b.action for b in layout.buttons} == {"lang", "speech"}
    alerts = await wait_until(lambda: open_hub_alerts(hub, "queue"), timeout=15, what="queue alert at the hub")
    assert alerts[0][1] == "critical"
    kiosk.on_action("take")
    assert kiosk.flow.screen == Screen.OFFLINE and kiosk.flow.pending is None


async def test_check_in_with_a_good_code_then_the_same_code_again_then_an_unknown_code(connected, cnap: Cnap) -> None:
    from datetime import datetime, timedelta, timezone

    kiosk, touch = connected
    slot = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    code = "482913"
    await cnap.ok("POST", "bookings", [{"code": code, "service": "id-card", "slot_start": slot}])

    async def enter(code: str) -> None:
        await wait_screen(kiosk, Screen.START)
        await asyncio.sleep(0.65)
        touch.tap_button("check_in")
        await wait_screen(kiosk, Screen.CHECK_IN)
        await asyncio.sleep(0.65)
        for i, digit in enumerate(code):
            touch.tap_button(f"key:{digit}")
            await wait_until(lambda n=i + 1: kiosk.screen.last_flow.code == code[:n], what=f"digit {i + 1}")
        assert kiosk.screen.last_layout.find(code)
        touch.tap_button("key:ok")

    await enter(code)
    await wait_screen(kiosk, Screen.TICKET)
    assert kiosk.flow.issued["ticket"]["kind"] == "booked"
    await asyncio.sleep(0.65)
    touch.tap_button("done")
    await enter(code)
    await wait_screen(kiosk, Screen.MESSAGE)
    assert kiosk.flow.message[1] == "This booking code has already been used."
    await asyncio.sleep(0.65)
    touch.tap_button("home")
    await enter("999999")
    await wait_screen(kiosk, Screen.MESSAGE)
    assert kiosk.flow.message[1] == "No booking with this code."
    assert kiosk.screen.last_layout.find("No booking with this code.")


async def test_a_rating_of_five_faces_and_zero_to_ten_is_recorded_at_the_queue(connected, cnap: Cnap) -> None:
    kiosk, touch = connected
    await asyncio.sleep(0.65)
    touch.tap_button("rate")
    await wait_screen(kiosk, Screen.GROUPS)
    assert kiosk.screen.last_layout.find("Яку послугу ви оцінюєте?")
    await asyncio.sleep(0.65)
    touch.tap_button("group:passport")
    await wait_screen(kiosk, Screen.SERVICES)
    await asyncio.sleep(0.65)
    touch.tap_button("service:id-card")
    await wait_screen(kiosk, Screen.RATE_FACES)
    layout = kiosk.screen.last_layout
    faces = [b for b in layout.buttons if b.action.startswith("face:")]
    assert [b.label for b in faces] == ["чудово", "добре", "прийнятно", "погано", "жахливо"]
    await asyncio.sleep(0.65)
    touch.tap_button("face:добре")
    await wait_screen(kiosk, Screen.RATE_LOYALTY)
    assert [b.action for b in kiosk.screen.last_layout.buttons if b.action.startswith("loyalty:")] == [
        f"loyalty:{n}" for n in range(11)]
    await asyncio.sleep(0.65)
    touch.tap_button("loyalty:9")
    await wait_screen(kiosk, Screen.THANKS)
    status, csv = await cnap.staff("GET", "stats.csv?what=feedback")
    assert status == 200
    rows = [line for line in str(csv).splitlines()[1:] if line.strip()]
    assert len(rows) == 1 and "добре" in rows[0] and ",9" in rows[0] and "id-card" in rows[0], csv
    assert (await cnap.state())["tickets"] == []  # rating issues no ticket


async def test_the_language_toggle_shows_english_and_the_next_visitor_starts_in_ukrainian(connected) -> None:
    kiosk, touch = connected
    assert kiosk.screen.last_layout.find("Взяти талон")
    touch.tap_button("lang")
    await wait_until(lambda: kiosk.screen.last_layout.find("Take a ticket"), what="English start screen")
    await asyncio.sleep(0.65)
    touch.tap_button("take")
    await wait_screen(kiosk, Screen.GROUPS)
    assert kiosk.screen.last_layout.find("Choose a group of services")
    await asyncio.sleep(0.65)
    touch.tap_button("home")
    await wait_screen(kiosk, Screen.START)
    assert kiosk.screen.last_layout.find("Взяти талон")


@pytest.mark.parametrize("connected", [{"idle_s": 0.5}], indirect=True)
async def test_an_idle_kiosk_warns_before_leaving_and_a_touch_gives_more_time(connected) -> None:
    kiosk, touch = connected
    await asyncio.sleep(0.65)
    touch.tap_button("take")
    await wait_until(lambda: kiosk.screen.last_layout.warning, what="idle warning")
    layout = kiosk.screen.last_layout
    assert layout.screen == "groups" and layout.find("Ви ще тут?")
    left = layout.find("Повернення на початок через")[0].text
    assert int(left.split()[-2]) >= 19
    touch.tap_button("more_time")
    await wait_until(lambda: not kiosk.screen.last_layout.warning, what="warning gone")
    assert kiosk.flow.screen == Screen.GROUPS


async def test_a_long_press_anywhere_starts_speech_mode_which_reads_the_screen_in_ukrainian(
        hub: HubFixture, cnap: Cnap, node_factory, tmp_path: Path) -> None:
    from kiosk.voice import espeak_available

    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    kiosk, touch = await start_kiosk(hub, node_factory, tmp_path, cnap.url, audio="file",
                                     wav_dir=str(tmp_path / "wav"))
    await wait_screen(kiosk, Screen.START)
    await touch.long_press((10, 300), 2.2)
    await wait_until(lambda: kiosk.voice.spoken >= 1, timeout=30, what="speech")
    assert kiosk.flow.speech and kiosk.flow.screen == Screen.START
    said = kiosk.voice.last_phrases
    assert said[0] == "Оберіть, що вам потрібно" and "Кнопка 1: Взяти талон." in said
    wav = tmp_path / "wav" / "last-speech.wav"
    import wave

    with wave.open(str(wav)) as w:
        assert w.getnframes() / w.getframerate() > 2.0
    # In speech mode a first tap says the button, a second chooses it.
    spoken = kiosk.voice.spoken
    touch.tap_button("take")
    await wait_until(lambda: kiosk.voice.spoken > spoken, timeout=30, what="button said")
    assert kiosk.voice.last_phrases[0].endswith("Взяти талон.") and kiosk.flow.screen == Screen.START
    touch.tap_button("take")
    await wait_screen(kiosk, Screen.GROUPS)
    assert kiosk.flow.speech


@pytest.mark.parametrize("connected", [{"printer_profile": "raster-80"}], indirect=True)
async def test_a_stalled_printer_never_freezes_the_screen(connected, cnap: Cnap) -> None:
    kiosk, touch = connected
    kiosk.sim_printer.stall(after_bytes=9)  # answers the status queries, then stops taking the job
    try:
        await take_ticket(kiosk, touch, "id-card")
        await wait_screen(kiosk, Screen.TICKET)
        # While the printer worker waits on the port, touches are still answered.
        touch.tap_button("lang")
        await wait_until(lambda: kiosk.screen.last_layout.find("Your number"), timeout=2, what="screen answers")
        await wait_until(lambda: kiosk.flow.print_status == "failed", timeout=15, what="print given up")
        assert kiosk.printed[-1].outcome == "timeout"
        await wait_until(lambda: kiosk.screen.last_layout.big_number == "А001", what="number shown large")
    finally:
        kiosk.sim_printer.resume()




@pytest.mark.parametrize("connected", [{"scenario": "demo", "scenario_every_s": 0.2}], indirect=True)
async def test_the_demo_visitor_takes_tickets_through_the_touch_screen(connected, cnap: Cnap) -> None:
    kiosk, _ = connected
    receipts = await asyncio.to_thread(kiosk.sim_printer.wait_for_receipts, 1, 15.0)
    assert receipts[0].qr_payloads and kiosk.flow.tickets_issued >= 1
    assert len((await cnap.state())["tickets"]) == kiosk.flow.tickets_issued
    health = kiosk.health()
    assert health["printer"] == "ok" and health["paper"] == "ok" and health["tickets_issued"] >= 1
    assert health["uptime_s"] > 0 and health["seconds_since_touch"] is not None


@pytest.mark.slow
async def test_a_kiosk_without_a_queue_url_finds_the_queue_by_mdns_in_its_roster(
        hub: HubFixture, node_factory, tmp_path: Path) -> None:
    from tests.test_queue_service import queue_settings

    queue = await node_factory("cnap-queue", hub.url, hub.code(role="queue", site="cnap"), roles=["queue"],
                               site="cnap", extra=queue_settings(tmp_path), discovery=True)
    node = await node_factory("cnap-kiosk", hub.url, hub.code(role="kiosk", site="cnap"), roles=["kiosk"],
                              site="cnap", extra=kiosk_settings(tmp_path, ""), discovery=True)
    kiosk = next(r for r in node.roles if r.name == "kiosk")
    await wait_until(lambda: kiosk.flow.connected and kiosk.flow.menu, timeout=30, what="queue found by mDNS")
    assert kiosk.client.peer_id == queue.identity.id
    await wait_screen(kiosk, Screen.START)
    assert {p.name for p in (tmp_path / "kiosk-png").iterdir()} >= {"start.png", "current.png", "offline.png"}
