"""The roll-call results as open data (відкриті дані поіменного голосування).

Two tables, exactly as the mandatory open dataset names them:

- ``motions`` — one row per question put to the vote;
- ``votings`` — one row per voter per question.

Pure functions from the council, the sitting and its finished votes to rows,
CSV text and a JSON-able dict; the caller writes the text as UTF-8.

Choices made here where the format is silent:

- ``date`` is the sitting's date (the same date as the ``uid`` prefix),
  not the UTC date of the moment of closing, which may differ after
  midnight Kyiv time.
- A cancelled vote is published as «Не голосували» and a question marked not
  considered as «Не розглядали», both with all five counts 0 and no
  ``votings`` rows: no roll call was established for them.
- The head, when taking part, appears in ``votings`` like a deputy, after
  the deputies; the deputies keep the council's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edge.csvtext import csv_text
from voting.hall.model import Council, Sitting, Vote

__all__ = [
    "MOTION_COLUMNS",
    "VOTING_COLUMNS",
    "motion_row",
    "voting_rows",
    "motions_csv",
    "votings_csv",
    "roll_call_document",
]

MOTION_COLUMNS: tuple[str, ...] = (
    "uid",
    "date",
    "authorityName",
    "authorityId",
    "authorityCattutc",
    "convocation",
    "legislativeSession",
    "number",
    "title",
    "projectNumber",
    "votingFor",
    "votingAgainst",
    "votingAbstain",
    "notVoting",
    "absent",
    "votingResult",
    "textUrl",
    "text",
)

VOTING_COLUMNS: tuple[str, ...] = (
    "motionUid",
    "voterId",
    "voterName",
    "motionTitle",
    "result",
)


def _finished(votes: Iterable[Vote]) -> list[Vote]:
    # Publishing a vote still open would publish a tally that is not one.
    result = list(votes)
    for vote in result:
        if not vote.finished:
            raise ValueError(f"vote {vote.uid} is {vote.status}, not finished")
    return result


def motion_row(council: Council, sitting: Sitting, vote: Vote) -> dict[str, Any]:
    """The ``motions`` row of a finished vote; counts as ints, the rest str."""
    (vote,) = _finished([vote])
    tally = vote.tally  # all zero when no roll call was established
    assert vote.outcome is not None
    return {
        "uid": vote.uid,
        "date": sitting.date.isoformat(),
        "authorityName": council.name,
        "authorityId": council.edrpou,
        "authorityCattutc": council.katottg,
        "convocation": sitting.convocation,
        "legislativeSession": sitting.session,
        "number": vote.question.number,
        "title": vote.question.title,
        "projectNumber": vote.question.project_number,
        "votingFor": tally.for_,
        "votingAgainst": tally.against,
        "votingAbstain": tally.abstain,
        "notVoting": tally.not_voting,
        "absent": tally.absent,
        "votingResult": vote.outcome.value,
        "textUrl": vote.question.text_url,
        "text": vote.question.text,
    }


def voting_rows(council: Council, vote: Vote) -> list[dict[str, Any]]:
    """The ``votings`` rows of a finished vote: one per voter of its roll
    call, in roll-call order (none for a cancelled or not-considered vote)."""
    (vote,) = _finished([vote])
    rows = []
    for entry in vote.roll_call:
        person = council.person(entry.voter_id)
        if person is None:
            raise ValueError(f"voter {entry.voter_id} is not in {council.name}")
        rows.append(
            {
                "motionUid": vote.uid,
                "voterId": person.id,
                "voterName": person.full_name,
                "motionTitle": vote.question.title,
                "result": entry.result.value,
            }
        )
    return rows


def table_csv(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> str:
    """CSV text of rows with exactly these columns (the hub publishes stored rows with it)."""
    return _csv(columns, rows)


def _csv(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> str:
    # csv's defaults: RFC 4180 quoting and CRLF line ends, as spreadsheet
    # programs and data.gov.ua validators expect.
    # Text cells that a spreadsheet would run as formulas are neutralised (edge.csvtext).
    def ordered(row: dict[str, Any]) -> list[Any]:
        extra = set(row) - set(columns)
        if extra:
            raise ValueError(f"dict contains fields not in fieldnames: {', '.join(sorted(extra))}")
        return [row.get(c, "") for c in columns]
    return csv_text(columns, (ordered(row) for row in rows))


def motions_csv(council: Council, sitting: Sitting, votes: Iterable[Vote]) -> str:
    """``motions.csv`` text: header and one row per finished vote."""
    return _csv(
        MOTION_COLUMNS, (motion_row(council, sitting, v) for v in _finished(votes))
    )


def votings_csv(council: Council, votes: Iterable[Vote]) -> str:
    """``votings.csv`` text: header and one row per voter per closed vote."""
    return _csv(
        VOTING_COLUMNS,
        (row for v in _finished(votes) for row in voting_rows(council, v)),
    )


def roll_call_document(
    council: Council, sitting: Sitting, votes: Iterable[Vote]
) -> dict[str, list[dict[str, Any]]]:
    """Both tables as one JSON-able dict: ``{"motions": [...], "votings":
    [...]}``, with the same column names; counts and numbers stay ints."""
    finished = _finished(votes)
    return {
        "motions": [motion_row(council, sitting, v) for v in finished],
        "votings": [row for v in finished for row in voting_rows(council, v)],
    }
