"""What screens, the overlay and consoles are shown: plain dicts made from the state.

Pure functions over a (committed) :class:`SittingState`; the wire format is
described in ``voting.protocol``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from voting.hall.council_file import CouncilFile
from voting.hall.events import format_time
from voting.hall.model import Result, Vote, VoteStatus
from voting.rules import quorum_required
from voting.hall.sitting import SittingState

RESULT_KEYS = ("За", "Проти", "Утримався", "Не голосував", "Відсутній")


def short_name(full_name: str) -> str:
    """«Бондаренко Олена Миколаївна» → «Бондаренко О. М.» (fits a grid cell)."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name
    return parts[0] + " " + " ".join(p[0] + "." for p in parts[1:])


def _counts(entries: Any) -> dict[str, int]:
    counts = {k: 0 for k in RESULT_KEYS}
    for e in entries:
        counts[Result(e.result).value] += 1
    return counts


def _last_ended(state: SittingState) -> Vote | None:
    ended = [v for v in state.votes if v.ended_at is not None and v.status in (VoteStatus.CLOSED, VoteStatus.CANCELLED)]
    return max(ended, key=lambda v: v.ended_at) if ended else None  # type: ignore[arg-type,return-value]


def hall_snapshot(state: SittingState | None, council: CouncilFile, *, registration_open: bool,
                  closes_at: datetime | None, show_choices_live: bool, seq: int, at: datetime) -> dict[str, Any]:
    """The whole picture a hall screen shows now."""
    snap: dict[str, Any] = {
        "type": "hall", "seq": seq, "at": format_time(at), "council": council.council.name,
        "convocation": council.convocation, "session": None, "date": None, "state": "waiting",
        "registration_open": False, "registered": 0, "total_composition": None, "quorum_required": None,
        "quorum_met": False, "vote": None, "result": None, "cancelled": None,
    }
    if state is None:
        # No sitting yet: the figures of one with the head taking part when there is a head.
        total = council.council.seats + (1 if council.council.head is not None else 0)
        snap.update(total_composition=total, quorum_required=quorum_required(total))
        return snap
    q = state.quorum
    snap.update(session=state.sitting.session, date=state.sitting.date.isoformat(),
                convocation=state.sitting.convocation, registration_open=registration_open,
                registered=q.registered, total_composition=q.total_composition, quorum_required=q.required,
                quorum_met=q.met)
    names = {p.id: p.full_name for p in state.voters}
    vote = state.current_vote
    if vote is not None:
        live = state.roll_call(vote.uid)
        counts = _counts(live)
        snap["state"] = "vote_open"
        snap["vote"] = {
            "uid": vote.uid, "number": vote.question.number, "title": vote.question.title,
            "project_number": vote.question.project_number, "rule_text": vote.question.rule.describe(),
            "threshold": vote.threshold, "opened_at": format_time(vote.opened_at) if vote.opened_at else None,
            "closes_at": format_time(closes_at) if closes_at else None,
            "voted": len(vote.ballots), "eligible": len(state.voters),
            "counts": {k: counts[k] for k in ("За", "Проти", "Утримався")} if show_choices_live else None,
        }
    last = _last_ended(state)
    if last is not None and last.status is VoteStatus.CLOSED:
        snap["result"] = {
            "uid": last.uid, "number": last.question.number, "title": last.question.title,
            "outcome": last.outcome.value if last.outcome else None, "threshold": last.threshold,
            "rule_text": last.question.rule.describe(),
            "closed_at": format_time(last.ended_at) if last.ended_at else None,
            "counts": _counts(last.roll_call),
            "roll_call": [{"id": e.voter_id, "name": names.get(e.voter_id, e.voter_id),
                           "short": short_name(names.get(e.voter_id, e.voter_id)), "result": Result(e.result).value}
                          for e in last.roll_call],
        }
    if last is not None and last.status is VoteStatus.CANCELLED:
        snap["cancelled"] = {"uid": last.uid, "number": last.question.number, "title": last.question.title,
                             "reason": last.cancel_reason}
    if vote is None:
        if last is not None:
            snap["state"] = "result" if last.status is VoteStatus.CLOSED else "cancelled"
        elif registration_open:
            snap["state"] = "registration"
    return snap


def console_state(state: SittingState | None, council: CouncilFile, seats: set[str],
                  registration_open: bool) -> dict[str, Any]:
    """What one console needs: the open vote and its own seats."""
    vote = state.current_vote if state else None
    out: dict[str, Any] = {"type": "state", "registration_open": bool(state) and registration_open,
                           "vote": {"uid": vote.uid, "number": vote.question.number, "title": vote.question.title}
                           if vote else None, "seats": {}}
    for seat in sorted(seats):
        assignment = council.by_seat(seat)
        if assignment is None or state is None:
            continue
        person = state.council.person(assignment.voter_id)
        ballot = vote.ballot_of(assignment.voter_id) if vote else None
        out["seats"][seat] = {"deputy": short_name(person.full_name) if person else assignment.voter_id,
                              "registered": assignment.voter_id in state.registered,
                              "choice": ballot.choice.value if ballot else None}
    return out


def secretary_view(state: SittingState | None, council: CouncilFile) -> dict[str, Any]:
    """Registration and the live roll call, for the secretary's page."""
    if state is None:
        return {"voters": [], "votes": []}
    vote = state.current_vote
    live = {e.voter_id: Result(e.result).value for e in state.roll_call(vote.uid)} if vote else {}
    voters = []
    for p in state.voters:
        seat = council.seat_of(p.id)
        ballot = vote.ballot_of(p.id) if vote else None
        voters.append({"id": p.id, "name": p.full_name, "seat": seat.seat if seat else None,
                       "registered": p.id in state.registered, "live": live.get(p.id),
                       "manual": bool(ballot and ballot.manual)})
    votes = [{"uid": v.uid, "number": v.question.number, "title": v.question.title, "status": v.status.value,
              "outcome": v.outcome.value if v.outcome else None, "threshold": v.threshold,
              "counts": _counts(v.roll_call) if v.status is VoteStatus.CLOSED else None} for v in state.votes]
    return {"voters": voters, "votes": votes}
