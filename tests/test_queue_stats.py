"""Statistics of a scripted ЦНАП day, and residents' feedback with the loyalty index."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kiosk.errors import ErrorCode, QueueError
from kiosk.queue.model import Queue
from kiosk.queue.services import CarryOver, QueueConfig, Service, ServiceGroup
from kiosk.queue.stats import (
    By,
    Feedback,
    Grade,
    Outcome,
    feedback_csv,
    feedback_summary,
    feedback_summary_csv,
    loyalty_index,
    peak_hours,
    summarize,
    summary_csv,
    visits,
    visits_csv,
)

KYIV = ZoneInfo("Europe/Kyiv")
MONDAY = date(2025, 3, 3)
CONFIG = QueueConfig(
    groups=(ServiceGroup("pasp", "Паспорти", "А"), ServiceGroup("cons", "Консультації", "К")),
    services=(
        Service("id-card", "ID-картка", "pasp", frozenset({1, 2})),
        Service("consult", "Консультація", "cons", frozenset({3})),
    ),
    windows=(1, 2, 3),
    carry_over=CarryOver.CARRY,
)


def at(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=KYIV)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def scripted_day() -> Queue:
    """A morning at the ЦНАП, each step with its figures in the comment."""
    q = Queue.open(CONFIG, MONDAY, at(7))
    for w in (1, 2, 3):
        q.open_window(w, at(8))
    q.issue_walk_in("id-card", at(9, 0))  # А001
    q.issue_walk_in("id-card", at(9, 5))  # А002
    q.issue_walk_in("consult", at(9, 10))  # К001
    q.call_next(1, at(9, 12))  # А001 waited 12 min
    q.start(1, at(9, 13))
    q.call_next(2, at(9, 15))  # А002 waited 10 min
    q.recall(2, at(9, 17))
    q.recall(2, at(9, 19))
    q.mark_no_show(2, at(9, 21))
    q.call_next(3, at(9, 20))  # К001 waited 10 min
    q.start(3, at(9, 21))
    q.redirect(3, at(9, 26), to_service="id-card", comment="оформити ID-картку")  # 5 min of service
    q.finish(1, at(9, 28))  # А001 served 15 min
    q.call_next(1, at(9, 30))  # К001 waited 4 min in its new line
    q.start(1, at(9, 31))
    q.finish(1, at(9, 41))  # К001 served 10 min
    q.issue_walk_in("id-card", at(10, 5))  # А003
    q.call_next(2, at(10, 10))  # waited 5 min
    q.start(2, at(10, 10))
    q.finish(2, at(10, 30))  # served 20 min
    q.issue_walk_in("consult", at(10, 20))  # К002, still waiting at the end
    return q


def test_each_stretch_of_a_ticket_is_one_visit_with_its_outcome() -> None:
    got = [(v.label, v.service_id, v.outcome, v.window, v.wait, v.service_time, v.recalls)
           for v in visits(scripted_day().events)]  # fmt: skip
    assert got == [
        ("А002", "id-card", Outcome.NO_SHOW, 2, minutes(10), None, 2),
        ("К001", "consult", Outcome.REDIRECTED, 3, minutes(10), minutes(5), 0),
        ("А001", "id-card", Outcome.SERVED, 1, minutes(12), minutes(15), 0),
        ("К001", "id-card", Outcome.SERVED, 1, minutes(4), minutes(10), 0),
        ("А003", "id-card", Outcome.SERVED, 2, minutes(5), minutes(20), 0),
        ("К002", "consult", Outcome.OPEN, None, None, None, 0),
    ]


def test_wait_and_service_time_per_service() -> None:
    rows = {r.key: r for r in summarize(visits(scripted_day().events), By.SERVICE, KYIV)}
    id_card, consult = rows["id-card"], rows["consult"]
    assert (id_card.visits, id_card.served, id_card.no_shows, id_card.redirected) == (4, 3, 1, 0)
    assert id_card.mean_wait == minutes(7.75)  # (12 + 10 + 4 + 5) / 4
    assert id_card.max_wait == minutes(12)
    assert id_card.mean_service == minutes(15)  # (15 + 10 + 20) / 3; the no-show has none
    assert id_card.max_service == minutes(20)
    assert (consult.visits, consult.served, consult.redirected) == (2, 0, 1)
    assert consult.mean_wait == minutes(10) and consult.mean_service == minutes(5)


def test_wait_and_service_time_per_window() -> None:
    rows = {r.key: r for r in summarize(visits(scripted_day().events), By.WINDOW, KYIV)}
    assert list(rows) == ["1", "2", "3"]  # the never-called К002 belongs to no window
    assert (rows["1"].served, rows["1"].mean_wait, rows["1"].mean_service) == (2, minutes(8), minutes(12.5))
    assert (rows["2"].no_shows, rows["2"].mean_wait, rows["2"].mean_service) == (1, minutes(7.5), minutes(20))
    assert (rows["3"].redirected, rows["3"].mean_service) == (1, minutes(5))


def test_wait_and_service_time_per_local_hour_of_joining_the_line() -> None:
    rows = {r.key: r for r in summarize(visits(scripted_day().events), By.HOUR, KYIV)}
    assert list(rows) == ["09:00", "10:00"]
    assert rows["09:00"].visits == 4 and rows["09:00"].mean_wait == minutes(9)
    assert rows["10:00"].visits == 2 and rows["10:00"].mean_wait == minutes(5)
    assert rows["10:00"].mean_service == minutes(20)


def test_peak_hours_count_arrivals_not_redirects() -> None:
    assert peak_hours(visits(scripted_day().events), KYIV) == [("09:00", 3), ("10:00", 2)]


def test_no_shows_are_counted() -> None:
    all_visits = visits(scripted_day().events)
    assert sum(v.outcome is Outcome.NO_SHOW for v in all_visits) == 1
    assert sum(r.no_shows for r in summarize(all_visits, By.SERVICE, KYIV)) == 1


def test_visits_export_as_csv_with_ukrainian_headers_and_whole_seconds() -> None:
    text = visits_csv(visits(scripted_day().events), KYIV)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["талон", "ідентифікатор", "послуга"]
    assert len(rows) == 1 + 6
    no_show = rows[1]
    assert no_show[0] == "А002" and no_show[9] == "неявка"
    assert no_show[5] == "2025-03-03T09:05:00+02:00"
    assert no_show[11:] == ["600", ""]


def test_summary_exports_as_csv() -> None:
    rows = summarize(visits(scripted_day().events), By.SERVICE, KYIV)
    lines = summary_csv(rows, By.SERVICE).splitlines()
    assert lines[0].startswith("послуга,талонів,обслуговано,неявок")
    assert lines[2] == "id-card,4,3,1,0,465,720,900,1200"
    assert summary_csv(rows, By.SERVICE, delimiter=";").splitlines()[2].count(";") == 8


def test_a_carried_over_ticket_has_no_overnight_wait() -> None:
    q = scripted_day()
    q.roll_over(date(2025, 3, 4), at(20))
    q.open_window(3, at(8, day=date(2025, 3, 4)))
    q.call_next(3, at(8, 30, day=date(2025, 3, 4)))
    last = [v for v in visits(q.events) if v.label == "К002"]
    assert [v.outcome for v in last] == [Outcome.CARRIED_OVER, Outcome.OPEN]
    assert last[1].returning and last[1].wait is None


def test_statistics_from_a_replayed_log_are_the_same() -> None:
    q = scripted_day()
    replayed = Queue.replay(CONFIG, [e.to_dict() for e in q.events])
    assert visits(replayed.events) == visits(q.events)


# --- feedback ------------------------------------------------------------------------------------


def answer(loyalty: int | None = None, grade: Grade | str | None = None, service: str = "id-card",
           window: int | None = 1, hour: int = 10) -> Feedback:  # fmt: skip
    return Feedback(at(hour), service, window, grade=grade, loyalty=loyalty)  # type: ignore[arg-type]


def test_grades_run_from_excellent_five_to_terrible_one() -> None:
    assert [(g.value, g.points) for g in Grade] == [
        ("чудово", 5), ("добре", 4), ("прийнятно", 3), ("погано", 2), ("жахливо", 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("scores", "index"),
    [
        ([10, 9, 8, 7, 6, 0], 0.0),  # 2 promoters, 2 passives, 2 detractors
        ([10, 10, 10, 5], 50.0),
        ([9, 9], 100.0),
        ([6, 0, 3], -100.0),
        ([7, 8], 0.0),  # passives only
        ([10, 6, 7], 0.0),
        ([9, 7, 7, 7], 25.0),
    ],
)
def test_loyalty_index_is_percent_of_9_10_minus_percent_of_0_6(scores: list[int], index: float) -> None:
    assert loyalty_index([answer(s) for s in scores]) == pytest.approx(index)


def test_loyalty_index_ignores_rating_only_answers_and_is_none_without_answers() -> None:
    assert loyalty_index([answer(grade=Grade.GOOD)]) is None
    assert loyalty_index([answer(10), answer(grade=Grade.POOR)]) == 100.0


@pytest.mark.parametrize("loyalty", [11, -1, 7.5, True, "9"])
def test_loyalty_answer_must_be_a_whole_number_from_0_to_10(loyalty: object) -> None:
    with pytest.raises(QueueError) as caught:
        answer(loyalty)  # type: ignore[arg-type]
    assert caught.value.code is ErrorCode.LOYALTY_OUT_OF_RANGE


def test_feedback_without_any_answer_is_refused() -> None:
    with pytest.raises(QueueError) as caught:
        answer()
    assert caught.value.code is ErrorCode.FEEDBACK_EMPTY


def test_a_grade_given_as_its_word_is_understood() -> None:
    assert answer(grade="добре").grade is Grade.GOOD
    with pytest.raises(QueueError) as caught:
        answer(grade="так собі")
    assert caught.value.code is ErrorCode.GRADE_INVALID
    assert "чудово, добре, прийнятно, погано, жахливо" in caught.value.message


FEEDBACK = [
    answer(10, Grade.EXCELLENT, "id-card", 1, 9),
    answer(9, Grade.GOOD, "id-card", 2, 9),
    answer(3, Grade.TERRIBLE, "id-card", 2, 10),
    answer(8, None, "consult", 3, 10),
    answer(None, Grade.ACCEPTABLE, "consult", 3, 11),
]


def test_feedback_summary_per_service() -> None:
    rows = {r.key: r for r in feedback_summary(FEEDBACK, KYIV, By.SERVICE)}
    id_card = rows["id-card"]
    assert id_card.answers == 3 and id_card.grades == (1, 1, 0, 0, 1)
    assert id_card.mean_points == pytest.approx(10 / 3)
    assert (id_card.promoters, id_card.passives, id_card.detractors) == (2, 0, 1)
    assert id_card.loyalty_index == pytest.approx(100 / 3)
    consult = rows["consult"]
    assert consult.grades == (0, 0, 1, 0, 0) and consult.loyalty_index == 0.0


def test_feedback_summary_overall_and_per_window_and_hour() -> None:
    (total,) = feedback_summary(FEEDBACK, KYIV)
    assert total.key == "усього" and total.answers == 5
    assert total.loyalty_index == pytest.approx(25.0)  # 2 of 4 promoters, 1 of 4 detractors
    assert [r.key for r in feedback_summary(FEEDBACK, KYIV, By.WINDOW)] == ["1", "2", "3"]
    assert [r.key for r in feedback_summary(FEEDBACK, KYIV, By.HOUR)] == ["09:00", "10:00", "11:00"]


def test_feedback_exports_as_csv() -> None:
    rows = list(csv.reader(io.StringIO(feedback_csv(FEEDBACK, KYIV))))
    assert rows[0] == ["час", "послуга", "вікно", "талон", "оцінка", "бали", "рекомендація (0–10)"]
    assert rows[1] == ["2025-03-03T09:00:00+02:00", "id-card", "1", "", "чудово", "5", "10"]
    assert rows[4][4:] == ["", "", "8"]
    summary = list(csv.reader(io.StringIO(feedback_summary_csv(feedback_summary(FEEDBACK, KYIV)))))
    assert summary[0][-1] == "індекс лояльності"
    assert summary[1] == ["усього", "5", "1", "1", "1", "0", "1", "3.25", "2", "1", "1", "25.0"]


def test_an_export_cell_cannot_become_a_spreadsheet_formula() -> None:
    # The exports open in Excel at the ЦНАП: text that came from a catalogue or a request is not a formula there.
    import csv as _csv
    import io as _io
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from kiosk.queue.stats import Feedback, feedback_csv
    fb = Feedback(at=datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc), service_id='=HYPERLINK("http://evil.example")',
                  loyalty=9)
    rows = list(_csv.reader(_io.StringIO(feedback_csv([fb], ZoneInfo("Europe/Kyiv")))))
    assert [c for c in rows[1] if "HYPERLINK" in c] == ['\'=HYPERLINK("http://evil.example")']
    assert "9" in rows[1]  # a number stays a number
