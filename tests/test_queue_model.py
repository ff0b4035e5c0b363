"""The ЦНАП queue model: configuration, tickets, bookings, windows, pauses, rollover, recovery."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.queue import stats
from kiosk.errors import ErrorCode, QueueError
from kiosk.queue.events import Event, TicketCalled, TicketRedirected
from kiosk.queue.model import Queue
from kiosk.queue.ordering import Rank, rank
from kiosk.queue.services import (
    ALLOWED_PREFIXES,
    CONFUSABLE_PREFIXES,
    CarryOver,
    NumberRange,
    QueueConfig,
    Schedule,
    Service,
    ServiceGroup,
    check_prefix,
)
from kiosk.queue.tickets import Booking, PauseReason, TicketKind, TicketState, WindowState

KYIV = ZoneInfo("Europe/Kyiv")
MONDAY = date(2025, 3, 3)
CLOSED_WEDNESDAY = date(2025, 3, 5)

GROUPS = (
    ServiceGroup("pasp", "Паспорти: подати документи", "А", "Паспорти"),
    ServiceGroup("land", "Земельні питання", "Г", "Земля"),
    ServiceGroup("cons", "Консультації", "К", "Консультації"),
)
SERVICES = (
    Service("id-card", "ID-картка", "pasp", frozenset({1, 2}), typical_minutes=15),
    Service("abroad", "Закордонний паспорт", "pasp", frozenset({2})),
    Service("cadastre", "Витяг з кадастру", "land", frozenset({3}),
            schedule=Schedule.weekly({d: [("09:00", "12:00")] for d in range(5)})),
    Service("consult", "Консультація", "cons", frozenset({1, 2, 3}), typical_minutes=5),
)  # fmt: skip
CENTRE_HOURS = Schedule.weekly(
    {**{d: [("08:00", "17:00")] for d in range(5)}, 5: [("08:00", "15:00")]},
    closed_days=[CLOSED_WEDNESDAY],
)


def config(**changes: object) -> QueueConfig:
    base = QueueConfig(groups=GROUPS, services=SERVICES, windows=(1, 2, 3), schedule=CENTRE_HOURS)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def at(hour: int, minute: int = 0, second: int = 0, day: date = MONDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=KYIV)


def new_queue(day: date = MONDAY, windows: tuple[int, ...] = (1, 2, 3), **changes: object) -> Queue:
    q = Queue.open(config(**changes), day, at(7, 30, day=day))
    for w in windows:
        q.open_window(w, at(8, day=day))
    return q


def refused(code: ErrorCode, q: Queue, action, *args, **kwargs) -> QueueError:
    """Run a command that must be refused with ``code`` and must change nothing."""
    before, n_events = q.to_dict(), len(q.events)
    with pytest.raises(QueueError) as caught:
        action(*args, **kwargs)
    assert caught.value.code is code, caught.value
    assert caught.value.message  # a person-readable text
    assert q.to_dict() == before and len(q.events) == n_events
    return caught.value


def serve(q: Queue, window: int, start: datetime, minutes: float) -> str:
    t = q.call_next(window, start)
    q.start(window, start)
    q.finish(window, start + timedelta(minutes=minutes))
    return t.label


# --- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize("letter", sorted(CONFUSABLE_PREFIXES))
def test_prefix_easily_confused_with_a_digit_is_refused(letter: str) -> None:
    with pytest.raises(QueueError) as caught:
        config(groups=(ServiceGroup("pasp", "Паспорти", letter),) + GROUPS[1:])
    assert caught.value.code is ErrorCode.PREFIX_CONFUSABLE
    assert CONFUSABLE_PREFIXES[letter] in caught.value.message


def test_the_refused_letters_are_exactly_o_z_b_ch_v_i_yi_soft_sign() -> None:
    assert set(CONFUSABLE_PREFIXES) == set("ОЗБЧВІЇЬ")
    assert ALLOWED_PREFIXES == "АГҐДЕЄЖИЙКЛМНПРСТУФХЦШЩЮЯ"


@pytest.mark.parametrize(("latin", "cyrillic"), [("A", "А"), ("B", "В"), ("O", "О"), ("P", "Р")])
def test_latin_look_alike_prefix_is_refused_naming_its_cyrillic_twin(latin: str, cyrillic: str) -> None:
    with pytest.raises(QueueError) as caught:
        check_prefix(latin)
    assert caught.value.code is ErrorCode.PREFIX_LATIN
    assert f"«{cyrillic}»" in caught.value.message


@pytest.mark.parametrize("prefix", ["1", "Q", "a"])
def test_any_latin_letter_or_digit_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(QueueError) as caught:
        check_prefix(prefix)
    assert caught.value.code is ErrorCode.PREFIX_LATIN


@pytest.mark.parametrize("prefix", ["", "АГ", "а", "Ы", "Ё"])
def test_prefix_must_be_one_ukrainian_capital_letter(prefix: str) -> None:
    with pytest.raises(QueueError) as caught:
        check_prefix(prefix)
    assert caught.value.code is ErrorCode.PREFIX_INVALID


@pytest.mark.parametrize("prefix", list(ALLOWED_PREFIXES))
def test_every_allowed_prefix_is_accepted(prefix: str) -> None:
    assert check_prefix(prefix) == prefix


def test_two_groups_cannot_share_a_prefix_nor_take_the_priority_prefix() -> None:
    with pytest.raises(QueueError) as caught:
        config(groups=GROUPS + (ServiceGroup("x", "Інше", "А"),))
    assert caught.value.code is ErrorCode.PREFIX_DUPLICATE
    with pytest.raises(QueueError) as caught:
        config(priority_prefix="К")
    assert caught.value.code is ErrorCode.PREFIX_DUPLICATE


@pytest.mark.parametrize(
    ("service", "code"),
    [
        (Service("x", "Х", "nope", frozenset({1})), ErrorCode.UNKNOWN_GROUP),
        (Service("x", "Х", "pasp", frozenset({9})), ErrorCode.UNKNOWN_WINDOW),
        (Service("x", "Х", "pasp", frozenset()), ErrorCode.CONFIG_INVALID),
        (Service("id-card", "Дубль", "pasp", frozenset({1})), ErrorCode.DUPLICATE_ID),
    ],
)
def test_a_service_must_name_a_known_group_and_existing_windows(service: Service, code: ErrorCode) -> None:
    with pytest.raises(QueueError) as caught:
        config(services=SERVICES + (service,))
    assert caught.value.code is code


def test_walk_in_and_booked_number_ranges_must_not_overlap() -> None:
    with pytest.raises(QueueError) as caught:
        config(walk_in_numbers=NumberRange(1, 700), booked_numbers=NumberRange(700, 999))
    assert caught.value.code is ErrorCode.RANGE_INVALID
    with pytest.raises(QueueError):
        NumberRange(0, 10)


def test_overlapping_working_hours_are_refused() -> None:
    with pytest.raises(QueueError) as caught:
        Schedule.weekly({0: [("08:00", "13:00"), ("12:00", "17:00")]})
    assert caught.value.code is ErrorCode.SCHEDULE_INVALID


def test_kiosk_menu_lists_areas_then_groups_then_services_in_configuration_order() -> None:
    menu = config().menu()
    assert [area for area, _ in menu] == ["Паспорти", "Земля", "Консультації"]
    area, groups = menu[0]
    group, services = groups[0]
    assert group.prefix == "А"
    assert [s.id for s in services] == ["id-card", "abroad"]


# --- issuing tickets ----------------------------------------------------------------------


def test_walk_in_numbers_run_from_001_per_group_prefix() -> None:
    q = new_queue()
    labels = [q.issue_walk_in(s, at(9)).label for s in ("id-card", "abroad", "consult", "id-card")]
    assert labels == ["А001", "А002", "К001", "А003"]
    assert q.ticket("2025-03-03/А001").state is TicketState.WAITING


def test_priority_ticket_has_own_prefix_and_sequence_and_says_verification_at_the_window() -> None:
    q = new_queue()
    q.issue_walk_in("id-card", at(9))
    first = q.issue_priority("id-card", at(9, 1))
    second = q.issue_priority("consult", at(9, 2))
    assert (first.label, second.label) == ("П001", "П002")
    assert first.kind is TicketKind.PRIORITY
    assert "Пільгова черга" in first.lane_label
    assert "Перевірка документів біля вікна" in first.lane_label


def test_priority_lane_allows_one_ticket_per_identified_person_per_service_per_day() -> None:
    q = new_queue(carry_over=CarryOver.EXPIRE)
    q.issue_priority("id-card", at(9), person_id="p-1")
    error = refused(ErrorCode.PRIORITY_LIMIT, q, q.issue_priority, "id-card", at(9, 5), person_id="p-1")
    assert "пільговий талон" in error.message
    q.issue_priority("consult", at(9, 6), person_id="p-1")  # another service
    q.issue_priority("id-card", at(9, 7), person_id="p-2")  # another person
    q.issue_priority("id-card", at(9, 8))  # identity unknown: no limit can apply
    q.issue_priority("id-card", at(9, 9))
    q.roll_over(date(2025, 3, 4), at(20))
    assert q.issue_priority("id-card", at(9, day=date(2025, 3, 4)), person_id="p-1").label == "П001"


@pytest.mark.parametrize(
    ("service", "when", "hint"),
    [
        ("cadastre", at(12, 0), "09:00–12:00"),  # the service's own hours end at 12:00
        ("cadastre", at(8, 59), "09:00–12:00"),
        ("id-card", at(17, 0), "08:00–17:00"),
        ("id-card", at(7, 59), "08:00–17:00"),
    ],
)
def test_ticket_outside_working_hours_is_refused_with_the_hours(service: str, when: datetime, hint: str) -> None:
    q = new_queue()
    error = refused(ErrorCode.SERVICE_CLOSED, q, q.issue_walk_in, service, when)
    assert hint in error.message


def test_no_tickets_on_a_closed_day_or_on_sunday() -> None:
    q = new_queue(day=CLOSED_WEDNESDAY)
    assert "вихідний" in refused(ErrorCode.SERVICE_CLOSED, q, q.issue_walk_in, "id-card",
                                 at(10, day=CLOSED_WEDNESDAY)).message  # fmt: skip
    sunday = date(2025, 3, 9)
    q = new_queue(day=sunday)
    refused(ErrorCode.SERVICE_CLOSED, q, q.issue_walk_in, "id-card", at(10, day=sunday))


def test_saturday_hours_come_from_the_weekly_schedule() -> None:
    saturday = date(2025, 3, 8)
    q = new_queue(day=saturday)
    assert q.issue_walk_in("id-card", at(14, 59, day=saturday)).label == "А001"
    refused(ErrorCode.SERVICE_CLOSED, q, q.issue_walk_in, "id-card", at(15, day=saturday))


def test_ticket_for_a_day_the_queue_is_not_open_for_is_refused() -> None:
    q = new_queue()
    refused(ErrorCode.WRONG_DAY, q, q.issue_walk_in, "id-card", at(9, day=date(2025, 3, 4)))


def test_ticket_for_an_unknown_service_is_refused() -> None:
    q = new_queue()
    refused(ErrorCode.UNKNOWN_SERVICE, q, q.issue_walk_in, "fishing-licence", at(9))


def test_a_full_sequence_is_refused_instead_of_reusing_numbers() -> None:
    q = new_queue(walk_in_numbers=NumberRange(1, 2))
    q.issue_walk_in("id-card", at(9))
    q.issue_walk_in("id-card", at(9))
    refused(ErrorCode.SEQUENCE_EXHAUSTED, q, q.issue_walk_in, "id-card", at(9))
    assert q.issue_walk_in("consult", at(9)).label == "К001"  # other series unaffected


def test_naive_datetimes_are_a_programming_error() -> None:
    q = new_queue()
    with pytest.raises(ValueError):
        q.issue_walk_in("id-card", datetime(2025, 3, 3, 9))


# --- bookings -------------------------------------------------------------------------------


def book(q: Queue, code: str, slot: datetime, service: str = "id-card", person: str | None = None) -> Booking:
    return q.add_booking(Booking(code, service, slot, person), at(7, 45))


def test_booked_check_in_gets_a_number_from_the_booking_range() -> None:
    q = new_queue()
    book(q, "AB12", at(10))
    t = q.check_in("AB12", at(9, 55))
    assert t.label == "А700"
    assert t.kind is TicketKind.BOOKED and t.on_time
    assert q.issue_walk_in("id-card", at(9, 56)).label == "А001"


def test_booking_code_ignores_case_and_spaces() -> None:
    q = new_queue()
    book(q, "ab12", at(10))
    assert q.check_in("  Ab12 ", at(10)).booking_code == "AB12"


def test_unknown_booking_code_is_refused() -> None:
    q = new_queue()
    error = refused(ErrorCode.BOOKING_UNKNOWN, q, q.check_in, "ZZZ", at(10))
    assert "ZZZ" in error.message


def test_used_booking_code_is_refused() -> None:
    q = new_queue()
    book(q, "AB12", at(10))
    q.check_in("AB12", at(10))
    refused(ErrorCode.BOOKING_USED, q, q.check_in, "ab12", at(10, 1))


def test_duplicate_booking_code_is_refused() -> None:
    q = new_queue()
    book(q, "AB12", at(10))
    refused(ErrorCode.BOOKING_DUPLICATE, q, book, q, "ab12", at(11))


def test_booking_for_another_day_cannot_check_in_today() -> None:
    q = new_queue()
    book(q, "AB12", at(10, day=date(2025, 3, 4)))
    refused(ErrorCode.BOOKING_NOT_TODAY, q, q.check_in, "AB12", at(10))


@pytest.mark.parametrize(
    ("check_in", "on_time"),
    [(at(9, 30), True), (at(10, 2), True), (at(10, 2, 1), False), (at(10, 30), False)],
)
def test_booked_visitor_is_on_time_up_to_the_grace_period_after_the_slot(check_in: datetime, on_time: bool) -> None:
    q = new_queue()
    book(q, "AB12", at(10))
    assert q.check_in("AB12", check_in).on_time is on_time


def test_time_the_queue_stood_paused_does_not_count_as_lateness() -> None:
    q = new_queue()
    book(q, "AB12", at(10))
    q.pause_queue(PauseReason.AIR_RAID, at(9, 50))
    q.resume_queue(at(10, 40))
    t = q.check_in("AB12", at(10, 41))  # 41 min after the slot, 40 of them in the shelter
    assert t.on_time


# --- the ordering rule as a table --------------------------------------------------------------


def walk_in(q: Queue, when: datetime) -> str:
    return q.issue_walk_in("id-card", when).id


def priority(q: Queue, when: datetime) -> str:
    return q.issue_priority("id-card", when).id


def booked_on_time(q: Queue, when: datetime) -> str:
    code = f"B{len(q.events)}"
    book(q, code, when)  # slot begins at check-in, so it is due at call time
    return q.check_in(code, when).id


def booked_late(q: Queue, when: datetime) -> str:
    code = f"B{len(q.events)}"
    book(q, code, when - timedelta(minutes=10))
    return q.check_in(code, when).id


def booked_early(q: Queue, when: datetime) -> str:
    code = f"B{len(q.events)}"
    book(q, code, when + timedelta(hours=2))  # slot not begun at call time
    return q.check_in(code, when).id


def redirected(q: Queue, when: datetime) -> str:
    """A visitor served at window 3 for a consultation, then sent to the ID-card line."""
    q.issue_walk_in("consult", when)
    t = q.call_next(3, when)
    q.start(3, when)
    q.redirect(3, when, to_service="id-card", comment="потрібна ID-картка")
    return t.id


KINDS = {f.__name__: f for f in (walk_in, priority, booked_on_time, booked_late, booked_early, redirected)}

ORDER_TABLE = [
    # earlier ticket (09:00), later ticket (09:05), which one window 1 calls first at 09:30
    ("walk_in", "walk_in", "earlier"),
    ("walk_in", "priority", "later"),
    ("priority", "walk_in", "earlier"),
    ("priority", "priority", "earlier"),
    ("walk_in", "booked_on_time", "later"),
    ("booked_on_time", "walk_in", "earlier"),
    ("walk_in", "booked_late", "earlier"),
    ("booked_late", "walk_in", "earlier"),
    ("walk_in", "booked_early", "earlier"),
    ("booked_early", "walk_in", "earlier"),
    ("booked_on_time", "booked_on_time", "earlier"),
    ("booked_late", "booked_on_time", "later"),
    ("walk_in", "redirected", "later"),
    ("booked_on_time", "redirected", "later"),
    ("redirected", "booked_on_time", "earlier"),
    ("redirected", "priority", "later"),
    ("priority", "redirected", "earlier"),
    ("redirected", "redirected", "earlier"),
]


@pytest.mark.parametrize(("earlier", "later", "first"), ORDER_TABLE)
def test_call_order_table(earlier: str, later: str, first: str) -> None:
    q = new_queue(windows=(1, 3))
    ids = {"earlier": KINDS[earlier](q, at(9)), "later": KINDS[later](q, at(9, 5))}
    called = q.call_next(1, at(9, 30))
    assert called.id == ids[first]
    q.start(1, at(9, 30))
    q.finish(1, at(9, 31))
    assert q.call_next(1, at(9, 31)).id == ids["later" if first == "earlier" else "earlier"]


@pytest.mark.parametrize(
    ("kind", "lane"),
    [("walk_in", Rank.GENERAL), ("priority", Rank.PRIORITY), ("booked_on_time", Rank.BOOKED),
     ("booked_late", Rank.GENERAL), ("booked_early", Rank.GENERAL), ("redirected", Rank.RETURNING)],
)  # fmt: skip
def test_each_kind_of_ticket_stands_in_its_lane(kind: str, lane: Rank) -> None:
    q = new_queue(windows=(1, 3))
    ticket = q.ticket(KINDS[kind](q, at(9)))
    assert rank(ticket, at(9, 30).astimezone(KYIV)) is lane


def test_booked_visitors_due_together_are_called_by_slot_time_not_arrival() -> None:
    q = new_queue()
    book(q, "LATER", at(9, 20))
    book(q, "SOONER", at(9, 10))
    q.check_in("LATER", at(9))
    q.check_in("SOONER", at(9, 5))
    assert q.call_next(1, at(9, 30)).booking_code == "SOONER"


def test_early_booked_visitor_goes_ahead_of_walk_ins_from_the_slot_start() -> None:
    q = new_queue()
    q.issue_walk_in("id-card", at(9))
    book(q, "AB12", at(10))
    booked = q.check_in("AB12", at(9, 5))
    assert [t.id for t in q.waiting(at(9, 59), window=1)][0] != booked.id
    assert q.waiting(at(10), window=1)[0].id == booked.id


def test_a_window_calls_only_the_services_it_provides() -> None:
    q = new_queue()
    q.issue_walk_in("abroad", at(9))  # only window 2
    cadastre = q.issue_walk_in("cadastre", at(9, 1))  # only window 3
    refused(ErrorCode.NO_ONE_WAITING, q, q.call_next, 1, at(9, 2))
    assert q.call_next(3, at(9, 2)).id == cadastre.id


def test_two_windows_calling_at_the_same_instant_get_different_tickets() -> None:
    q = new_queue()
    q.issue_walk_in("id-card", at(9))
    q.issue_walk_in("id-card", at(9))
    assert q.call_next(1, at(9, 1)).id != q.call_next(2, at(9, 1)).id
    refused(ErrorCode.NO_ONE_WAITING, q, q.call_next, 3, at(9, 1))


# --- windows -------------------------------------------------------------------------------------


def test_calling_with_no_one_waiting_is_refused() -> None:
    q = new_queue()
    error = refused(ErrorCode.NO_ONE_WAITING, q, q.call_next, 1, at(9))
    assert "ніхто не чекає" in error.message


def test_a_closed_or_paused_window_cannot_call() -> None:
    q = new_queue(windows=(1,))
    q.issue_walk_in("id-card", at(9))
    refused(ErrorCode.WINDOW_NOT_OPEN, q, q.call_next, 2, at(9, 1))
    q.pause_window(1, at(9, 1), reason="обідня перерва")
    assert q.window(1).state is WindowState.PAUSED and q.window(1).reason == "обідня перерва"
    refused(ErrorCode.WINDOW_NOT_OPEN, q, q.call_next, 1, at(9, 2))
    q.resume_window(1, at(9, 30))
    assert q.call_next(1, at(9, 31)).label == "А001"


def test_window_state_changes_are_checked() -> None:
    q = new_queue(windows=(1,))
    refused(ErrorCode.WINDOW_ALREADY_OPEN, q, q.open_window, 1, at(9))
    refused(ErrorCode.WINDOW_NOT_PAUSED, q, q.resume_window, 1, at(9))
    refused(ErrorCode.WINDOW_NOT_OPEN, q, q.close_window, 2, at(9))
    refused(ErrorCode.UNKNOWN_WINDOW, q, q.open_window, 7, at(9))
    q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9))
    refused(ErrorCode.WINDOW_BUSY, q, q.pause_window, 1, at(9, 1))
    refused(ErrorCode.WINDOW_BUSY, q, q.close_window, 1, at(9, 1))


def test_a_window_with_a_visitor_cannot_call_the_next_one() -> None:
    q = new_queue()
    q.issue_walk_in("id-card", at(9))
    q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9, 1))
    error = refused(ErrorCode.WINDOW_BUSY, q, q.call_next, 1, at(9, 2))
    assert "А001" in error.message


def test_service_runs_called_then_started_then_finished() -> None:
    q = new_queue()
    t = q.issue_walk_in("id-card", at(9))
    assert q.call_next(1, at(9, 1)).state is TicketState.CALLED
    refused(ErrorCode.NOT_STARTED, q, q.finish, 1, at(9, 2))
    assert q.start(1, at(9, 2)).state is TicketState.SERVING
    refused(ErrorCode.ALREADY_STARTED, q, q.start, 1, at(9, 3))
    done = q.finish(1, at(9, 12), ticket_id=t.id)
    assert done.state is TicketState.DONE and q.window(1).ticket_id is None


def test_finishing_twice_is_refused() -> None:
    q = new_queue()
    t = q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9, 1))
    q.start(1, at(9, 2))
    q.finish(1, at(9, 10), ticket_id=t.id)
    error = refused(ErrorCode.ALREADY_FINISHED, q, q.finish, 1, at(9, 10), ticket_id=t.id)
    assert "А001" in error.message
    refused(ErrorCode.WINDOW_IDLE, q, q.finish, 1, at(9, 10))


def test_an_operator_page_showing_another_ticket_is_told_it_is_stale() -> None:
    q = new_queue()
    first = q.issue_walk_in("id-card", at(9))
    q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9, 1))
    q.call_next(2, at(9, 1))
    refused(ErrorCode.STALE_TICKET, q, q.start, 2, at(9, 2), ticket_id=first.id)
    refused(ErrorCode.UNKNOWN_TICKET, q, q.start, 2, at(9, 2), ticket_id="nope")


def test_recall_up_to_the_configured_number_then_no_show() -> None:
    q = new_queue(recalls_before_no_show=2)
    q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9, 1))
    refused(ErrorCode.NO_SHOW_TOO_EARLY, q, q.mark_no_show, 1, at(9, 2))
    assert q.recall(1, at(9, 2)).recalls == 1
    refused(ErrorCode.NO_SHOW_TOO_EARLY, q, q.mark_no_show, 1, at(9, 3))
    assert q.recall(1, at(9, 3)).recalls == 2
    refused(ErrorCode.RECALL_LIMIT, q, q.recall, 1, at(9, 4))
    assert q.mark_no_show(1, at(9, 5)).state is TicketState.NO_SHOW
    assert q.window(1).ticket_id is None


def test_with_zero_recalls_configured_no_show_may_follow_the_first_call() -> None:
    q = new_queue(recalls_before_no_show=0)
    q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9, 1))
    refused(ErrorCode.RECALL_LIMIT, q, q.recall, 1, at(9, 2))
    assert q.mark_no_show(1, at(9, 2)).state is TicketState.NO_SHOW


def test_a_started_service_cannot_be_recalled_or_marked_no_show() -> None:
    q = new_queue()
    q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9, 1))
    q.start(1, at(9, 2))
    refused(ErrorCode.ALREADY_STARTED, q, q.recall, 1, at(9, 3))
    refused(ErrorCode.ALREADY_STARTED, q, q.mark_no_show, 1, at(9, 3))


def test_calls_and_recalls_feed_the_calling_screen_newest_first() -> None:
    q = new_queue()
    q.issue_walk_in("id-card", at(9))
    q.issue_priority("consult", at(9))
    q.call_next(1, at(9, 1))
    q.call_next(2, at(9, 2))
    q.recall(1, at(9, 3))
    calls = q.recent_calls()
    assert [(c.label, c.window, c.repeat, c.priority) for c in calls] == [
        ("П001", 1, True, True), ("А001", 2, False, False), ("П001", 1, False, True),
    ]  # fmt: skip


# --- redirect -------------------------------------------------------------------------------


def test_redirected_visitor_keeps_the_number_and_an_elevated_place_in_the_new_line() -> None:
    q = new_queue()
    q.issue_walk_in("abroad", at(9))  # waits at window 2 before the redirect happens
    consult = q.issue_walk_in("consult", at(9, 1))
    q.call_next(3, at(9, 2))
    q.start(3, at(9, 3))
    moved = q.redirect(3, at(9, 10), to_service="abroad", comment="закордонний паспорт")
    assert (moved.id, moved.label) == (consult.id, "К001")
    assert moved.state is TicketState.WAITING and moved.service_id == "abroad"
    assert moved.elevated and moved.comment == "закордонний паспорт"
    assert q.window(3).ticket_id is None
    assert q.call_next(2, at(9, 11)).id == consult.id


def test_redirect_to_a_window_lets_only_that_window_call_the_visitor() -> None:
    q = new_queue()
    q.issue_walk_in("id-card", at(9))
    t = q.call_next(1, at(9, 1))
    q.redirect(1, at(9, 2), to_window=2, comment="до старшого адміністратора")
    assert q.ticket(t.id).target_window == 2
    refused(ErrorCode.NO_ONE_WAITING, q, q.call_next, 1, at(9, 3))
    assert q.call_next(2, at(9, 3)).id == t.id


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to_service": "fishing-licence"}, ErrorCode.UNKNOWN_SERVICE),
        ({"to_window": 9}, ErrorCode.UNKNOWN_WINDOW),
        ({"to_service": "cadastre", "to_window": 1}, ErrorCode.WINDOW_DOES_NOT_SERVE),
        ({}, ErrorCode.REDIRECT_TARGET_MISSING),
        ({"to_service": "id-card"}, ErrorCode.REDIRECT_TO_SELF),
        ({"to_window": 1}, ErrorCode.REDIRECT_TO_SELF),
    ],
)
def test_bad_redirect_is_refused_and_changes_nothing(kwargs: dict, code: ErrorCode) -> None:
    q = new_queue()
    q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9, 1))
    refused(code, q, q.redirect, 1, at(9, 2), **kwargs)


def test_redirect_from_an_idle_window_is_refused() -> None:
    q = new_queue()
    refused(ErrorCode.WINDOW_IDLE, q, q.redirect, 1, at(9), to_service="consult")


# --- whole-queue pause ----------------------------------------------------------------------------


def test_paused_queue_refuses_calls_and_tickets_and_shows_the_reason() -> None:
    q = new_queue()
    book(q, "AB12", at(10))
    q.issue_walk_in("id-card", at(9))
    q.issue_walk_in("id-card", at(9))
    q.call_next(2, at(9, 1))
    pause = q.pause_queue(PauseReason.AIR_RAID, at(9, 2))
    assert pause.text == "Обслуговування призупинено: повітряна тривога"
    for action, args in [
        (q.call_next, (1, at(9, 3))),
        (q.recall, (2, at(9, 3))),
        (q.mark_no_show, (2, at(9, 3))),
        (q.issue_walk_in, ("id-card", at(9, 3))),
        (q.issue_priority, ("id-card", at(9, 3))),
        (q.check_in, ("AB12", at(9, 3))),
    ]:
        error = refused(ErrorCode.QUEUE_PAUSED, q, action, *args)
        assert "повітряна тривога" in error.message


def test_a_visitor_already_at_a_window_may_be_finished_during_a_pause() -> None:
    q = new_queue()
    q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9, 1))
    q.start(1, at(9, 2))
    q.pause_queue(PauseReason.BLACKOUT, at(9, 3), note="генератор запускається")
    assert "генератор" in q.pause.text  # type: ignore[union-attr]
    assert q.finish(1, at(9, 4)).state is TicketState.DONE


def test_nothing_is_lost_across_a_pause() -> None:
    q = new_queue()
    for s in ("id-card", "consult", "abroad", "id-card"):
        q.issue_walk_in(s, at(9))
    q.issue_priority("consult", at(9, 1))
    q.call_next(1, at(9, 2))
    before = ([t.id for t in q.waiting(at(9, 3))], [w for w in q.windows()])
    q.pause_queue(PauseReason.AIR_RAID, at(9, 3))
    q.resume_queue(at(11))
    assert q.pause is None
    assert ([t.id for t in q.waiting(at(11))], q.windows()) == before
    assert len(q.tickets()) == 5
    assert q.call_next(2, at(11)).label == "А001"  # the order is the one before the alert


def test_pausing_twice_or_resuming_a_running_queue_is_refused() -> None:
    q = new_queue()
    refused(ErrorCode.QUEUE_NOT_PAUSED, q, q.resume_queue, at(9))
    q.pause_queue(PauseReason.AIR_RAID, at(9))
    error = refused(ErrorCode.QUEUE_ALREADY_PAUSED, q, q.pause_queue, PauseReason.BLACKOUT, at(9, 1))
    assert "повітряна тривога" in error.message


# --- day rollover ---------------------------------------------------------------------------------

TUESDAY = date(2025, 3, 4)


def scripted_monday(**changes: object) -> Queue:
    q = new_queue(**changes)
    book(q, "TODAY", at(10))
    book(q, "TOMORROW", at(10, day=TUESDAY))
    q.issue_walk_in("id-card", at(9))  # А001 served
    q.issue_walk_in("id-card", at(9, 5))  # А002 left waiting
    q.issue_walk_in("consult", at(9, 6))  # К001 at window 3 when the day ends
    q.issue_priority("id-card", at(9, 7), person_id="p-1")  # П001 left waiting
    serve(q, 1, at(9, 10), 5)  # П001 is called first: priority
    serve(q, 1, at(9, 20), 5)
    q.call_next(3, at(16, 50))
    return q


def test_rollover_with_expire_policy_starts_an_empty_day() -> None:
    q = scripted_monday(carry_over=CarryOver.EXPIRE)
    rolled = q.roll_over(TUESDAY, at(20))
    assert set(rolled.expired) == {"2025-03-03/А002", "2025-03-03/К001"} and not rolled.carried
    assert q.tickets() == [] and q.day == TUESDAY
    assert all(w.state is WindowState.CLOSED and w.ticket_id is None for w in q.windows())
    refused(ErrorCode.BOOKING_UNKNOWN, q, q.check_in, "TODAY", at(10, day=TUESDAY))
    q.open_window(1, at(8, day=TUESDAY))
    assert q.issue_walk_in("id-card", at(9, day=TUESDAY)).label == "А001"
    assert q.check_in("TOMORROW", at(10, day=TUESDAY)).on_time


def test_rollover_with_carry_policy_keeps_unserved_tickets_ahead_of_new_walk_ins() -> None:
    q = scripted_monday(carry_over=CarryOver.CARRY)
    rolled = q.roll_over(TUESDAY, at(20))
    assert set(rolled.carried) == {"2025-03-03/А002", "2025-03-03/К001"}
    carried = q.ticket("2025-03-03/К001")
    assert carried.state is TicketState.WAITING and carried.elevated and carried.window is None
    q.open_window(1, at(8, day=TUESDAY))
    new = q.issue_walk_in("id-card", at(8, 1, day=TUESDAY))
    assert new.label == "А003"  # never the number a carried ticket holds
    assert q.call_next(1, at(8, 2, day=TUESDAY)).label == "А002"


def test_rollover_must_move_forward() -> None:
    q = new_queue()
    refused(ErrorCode.DAY_NOT_AFTER, q, q.roll_over, MONDAY, at(20))
    refused(ErrorCode.DAY_NOT_AFTER, q, q.roll_over, date(2025, 3, 2), at(20))


# --- wait estimate ---------------------------------------------------------------------------------


def test_estimate_counts_people_ahead_and_uses_typical_time_before_any_service() -> None:
    q = new_queue(windows=(1,))
    q.issue_walk_in("id-card", at(9))
    q.issue_walk_in("id-card", at(9))
    t = q.issue_walk_in("id-card", at(9))
    estimate = q.estimate(t.id, at(9))
    # two people ahead × 15 min ÷ 1 window = 30 min, ±25 %
    assert (estimate.people_ahead, estimate.low_minutes, estimate.high_minutes) == (2, 22, 38)
    assert estimate.text == "22–38 хв"


def test_estimate_uses_the_rolling_average_of_recent_service_times() -> None:
    q = new_queue(windows=(1,), rolling_window=2)
    for _ in range(4):
        q.issue_walk_in("id-card", at(9))
    serve(q, 1, at(9), 30)  # pushed out of the rolling window
    serve(q, 1, at(9, 30), 4)
    serve(q, 1, at(9, 40), 6)
    t = q.issue_walk_in("id-card", at(10))
    estimate = q.estimate(t.id, at(10))
    # one ahead × mean(4, 6) = 5 min
    assert (estimate.people_ahead, estimate.low_minutes, estimate.high_minutes) == (1, 3, 7)


def test_more_open_windows_shorten_the_estimate_and_a_visitor_being_served_counts_half() -> None:
    q = new_queue(windows=(1,))
    for _ in range(4):
        q.issue_walk_in("id-card", at(9))
    t = q.issue_walk_in("id-card", at(9))
    assert q.estimate(t.id, at(9)).high_minutes == 75  # 4 × 15 = 60 (+25 %)
    q.open_window(2, at(9))
    assert q.estimate(t.id, at(9)).high_minutes == 38  # 60 ÷ 2 windows
    q.call_next(1, at(9, 1))
    estimate = q.estimate(t.id, at(9, 1))
    assert estimate.people_ahead == 3
    assert (estimate.low_minutes, estimate.high_minutes) == (19, 33)  # (45 + 7.5) ÷ 2


def test_estimate_is_a_dash_when_no_open_window_serves_the_ticket() -> None:
    q = new_queue(windows=(1, 2))
    t = q.issue_walk_in("cadastre", at(9, 30))  # only window 3, which is closed
    estimate = q.estimate(t.id, at(9, 30))
    assert estimate.text == "—" and estimate.people_ahead == 0 and not estimate.available
    q.open_window(3, at(9, 31))
    assert q.estimate(t.id, at(9, 31)).text != "—"
    q.pause_queue(PauseReason.AIR_RAID, at(9, 32))
    assert q.estimate(t.id, at(9, 32)).text == "—"


def test_kiosk_shows_the_estimate_before_a_ticket_is_taken() -> None:
    q = new_queue(windows=(1,))
    q.issue_walk_in("id-card", at(9))
    q.issue_priority("id-card", at(9))
    assert q.estimate_new("id-card", at(9, 1)).people_ahead == 2
    assert q.estimate_new("consult", at(9, 1)).people_ahead == 2  # window 1 serves both
    refused(ErrorCode.UNKNOWN_SERVICE, q, q.estimate_new, "nope", at(9))


def test_a_ticket_no_longer_waiting_has_no_estimate() -> None:
    q = new_queue()
    t = q.issue_walk_in("id-card", at(9))
    q.call_next(1, at(9))
    refused(ErrorCode.TICKET_NOT_WAITING, q, q.estimate, t.id, at(9))


# --- crash recovery -----------------------------------------------------------------------------------


def test_replaying_the_stored_events_rebuilds_the_same_queue() -> None:
    stored: list[str] = []
    q = Queue.open(config(carry_over=CarryOver.CARRY), MONDAY, at(7), journal=lambda e: stored.append(
        json.dumps(e.to_dict(), ensure_ascii=False)))  # fmt: skip
    q.open_window(1, at(8))
    q.open_window(3, at(8))
    book(q, "AB12", at(10))
    redirected(q, at(9))
    q.issue_priority("id-card", at(9, 1), person_id="p")
    q.check_in("AB12", at(9, 58))
    q.pause_queue(PauseReason.BLACKOUT, at(10))
    q.resume_queue(at(10, 30))
    serve(q, 1, at(10, 31), 7)
    q.call_next(1, at(10, 40))
    q.roll_over(TUESDAY, at(20))

    restored = Queue.replay(config(carry_over=CarryOver.CARRY), [json.loads(s) for s in stored])
    assert restored.to_dict() == q.to_dict()
    assert restored.events == q.events
    # and it keeps working the same way
    restored.open_window(1, at(8, day=TUESDAY))
    q.open_window(1, at(8, day=TUESDAY))
    assert restored.call_next(1, at(9, day=TUESDAY)) == q.call_next(1, at(9, day=TUESDAY))


def test_a_snapshot_restores_the_same_queue() -> None:
    q = scripted_monday()
    data = json.loads(json.dumps(q.to_dict(), ensure_ascii=False))
    restored = Queue.from_dict(config(), data)
    assert restored.to_dict() == q.to_dict()
    assert restored.estimate_new("id-card", at(17)) == q.estimate_new("id-card", at(17))


def test_a_failing_journal_leaves_the_queue_unchanged() -> None:
    q = new_queue()
    before = q.to_dict()

    def disk_full(event: Event) -> None:
        raise OSError("disk full")

    q.journal = disk_full
    with pytest.raises(OSError):
        q.issue_walk_in("id-card", at(9))
    assert q.to_dict() == before


def test_an_event_log_must_start_with_the_day_opening() -> None:
    q = new_queue()
    with pytest.raises(ValueError):
        Queue.replay(config(), q.events[1:])


def test_times_are_stored_as_utc_with_milliseconds() -> None:
    q = new_queue()
    q.issue_walk_in("id-card", datetime(2025, 3, 3, 9, 0, 0, 123456, tzinfo=KYIV))
    assert q.events[-1].to_dict()["at"] == "2025-03-03T07:00:00.123Z"


# --- properties ------------------------------------------------------------------------------------

SERVICE_IDS = [s.id for s in SERVICES]
WINDOW = st.integers(1, 3)
ISSUE = st.one_of(
    st.tuples(st.just("walk_in"), st.sampled_from(SERVICE_IDS)),
    st.tuples(st.just("priority"), st.sampled_from(SERVICE_IDS), st.sampled_from([None, "p1", "p2"])),
    st.tuples(st.just("book"), st.integers(-30, 60)),
    st.tuples(st.just("check_in"), st.integers(0, 5)),
)
STEP = st.tuples(st.just("step"), WINDOW)  # the window's natural next action
SERVE = st.one_of(*(st.tuples(st.just(op), WINDOW) for op in ("call", "start", "finish")))
TROUBLE = st.tuples(
    st.sampled_from(["recall", "no_show", "open", "pause_w", "resume_w", "close"]), WINDOW
)
REDIRECT = st.tuples(st.just("redirect"), WINDOW, st.sampled_from([*SERVICE_IDS, "nope", None]),
                     st.sampled_from([None, 1, 2, 3]))  # fmt: skip
ALERT = st.tuples(st.just("alert"), st.integers(0, 3))  # an alert lasting 0–3 further commands
# Issuing and serving are drawn more often than disruptions, so that long
# stretches of ordinary work happen between them.
_MIX = {"issue": ISSUE, "step": STEP, "serve": SERVE, "trouble": TROUBLE, "redirect": REDIRECT,
        "alert": ALERT}  # fmt: skip
OPS = st.sampled_from(
    ["issue"] * 8 + ["step"] * 8 + ["serve", "trouble", "trouble", "redirect", "redirect", "alert"]
).flatmap(_MIX.__getitem__)


def run(q: Queue, op: tuple, now: datetime, codes: list[str]) -> None:
    name, *args = op
    if name in ("recall", "no_show", "start", "finish", "redirect"):
        # Aim at a window with a visitor when there is one; idle windows are tried too.
        busy = [w.number for w in q.windows() if w.ticket_id is not None]
        args[0] = busy[args[0] % len(busy)] if busy and args[0] != 3 else args[0]
    match name:
        case "walk_in":
            q.issue_walk_in(args[0], now)
        case "priority":
            q.issue_priority(args[0], now, person_id=args[1])
        case "book":
            code = f"C{len(codes)}"
            q.add_booking(Booking(code, "id-card", now + timedelta(minutes=args[0])), now)
            codes.append(code)
        case "check_in":
            # Mostly a real code (some already used), sometimes one that does not exist.
            q.check_in(codes[args[0] % len(codes)] if codes and args[0] < 5 else "NO-SUCH-CODE", now)
        case "step":
            at_window = q.window(args[0]).ticket_id
            if at_window is None:
                q.call_next(args[0], now)
            elif q.ticket(at_window).state is TicketState.CALLED:
                q.start(args[0], now)
            else:
                q.finish(args[0], now)
        case "call":
            q.call_next(args[0], now)
        case "recall":
            q.recall(args[0], now)
        case "no_show":
            q.mark_no_show(args[0], now)
        case "start":
            q.start(args[0], now)
        case "finish":
            q.finish(args[0], now)
        case "open":
            q.open_window(args[0], now)
        case "pause_w":
            q.pause_window(args[0], now, "перерва")
        case "resume_w":
            q.resume_window(args[0], now)
        case "close":
            q.close_window(args[0], now)
        case "redirect":
            q.redirect(args[0], now, to_service=args[1], to_window=args[2], comment="")
        case "alert":
            q.pause_queue(PauseReason.AIR_RAID, now)
        case "resume":
            q.resume_queue(now)


def check_invariants(q: Queue, now: datetime) -> None:
    tickets = {t.id: t for t in q.tickets()}
    waiting = {t.id for t in q.waiting(now)}
    at_windows = [w.ticket_id for w in q.windows() if w.ticket_id is not None]
    closed = {i for i, t in tickets.items() if t.state.is_closed}
    # every ticket is in exactly one place: the line, one window, or closed
    assert len(at_windows) == len(set(at_windows))
    assert waiting | set(at_windows) | closed == set(tickets)
    assert len(waiting) + len(at_windows) + len(closed) == len(tickets)
    for w in q.windows():
        if w.ticket_id is not None:
            t = tickets[w.ticket_id]
            assert t.state.at_window and t.window == w.number
            assert w.state is not WindowState.CLOSED
    # a ticket is called once per stretch in a line: never twice without a redirect between
    calls: dict[str, int] = {}
    redirects: dict[str, int] = {}
    for e in q.events:
        if isinstance(e, TicketCalled):
            calls[e.ticket_id] = calls.get(e.ticket_id, 0) + 1
            assert calls[e.ticket_id] == redirects.get(e.ticket_id, 0) + 1
        if isinstance(e, TicketRedirected):
            redirects[e.ticket_id] = redirects.get(e.ticket_id, 0) + 1


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.tuples(OPS, st.integers(0, 4)), min_size=10, max_size=80))
def test_any_sequence_of_commands_keeps_the_queue_consistent_and_replayable(ops: list) -> None:
    cfg = config(recalls_before_no_show=1)
    q = Queue.open(cfg, MONDAY, at(7))
    for w in (1, 2, 3):
        q.open_window(w, at(8))
    now = at(8, 30)
    codes: list[str] = []
    alert_left: int | None = None
    for op, minutes in ops:
        if alert_left == 0:
            op, alert_left = ("resume",), None
        elif alert_left is not None:
            alert_left -= 1
        now += timedelta(minutes=minutes)
        before, n_events = q.to_dict(), len(q.events)
        try:
            run(q, op, now, codes)
            if op[0] == "alert":
                alert_left = op[1]
        except QueueError as error:
            assert error.code in ErrorCode
            assert q.to_dict() == before and len(q.events) == n_events  # refused → nothing changed
        check_invariants(q, now)
    assert Queue.replay(cfg, [e.to_dict() for e in q.events]).to_dict() == q.to_dict()
    assert Queue.from_dict(cfg, q.to_dict()).to_dict() == q.to_dict()
    # statistics see every ticket, once per service it waited for
    visits = stats.visits(q.events)
    per_ticket: dict[str, int] = {}
    for v in visits:
        per_ticket[v.ticket_id] = per_ticket.get(v.ticket_id, 0) + 1
    assert set(per_ticket) == {t.id for t in q.tickets()}
    for ticket_id, n in per_ticket.items():
        assert n == 1 + sum(isinstance(e, TicketRedirected) and e.ticket_id == ticket_id for e in q.events)
