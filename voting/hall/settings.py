"""The hall's configuration: the ``[roles.hall]`` table of the node's file."""

from __future__ import annotations

from dataclasses import dataclass

from edge.config import one_of, option, required


@dataclass(frozen=True, slots=True, kw_only=True)
class HallSettings:
    """`[roles.hall]`: the session hall controller."""

    council_file: str = required("TOML file with the council, its deputies, their seats, consoles and cards.")
    head_takes_part: bool = option(True, "Whether the head takes part in sittings by default (changes the total composition).")
    allow_change: bool = option(False, "Whether a deputy may change a choice while the vote is open.")
    presence_required: bool = option(True, "A vote button counts only while the seat's presence sensor is held.")
    vote_duration_s: float = option(0.0, "Votes close by themselves after this many seconds (0: the secretary closes them).")
    show_choices_live: bool = option(False, "Show the running counts of choices on screens while a vote is open.")
    scenario: str = option("", "`demo`: the hall runs a sitting by itself (registration, votes) for the demo.",
                         one_of("", "demo"))
