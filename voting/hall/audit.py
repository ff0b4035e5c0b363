"""The audit hash chain over the events of a sitting.

Each stored event carries a link hash::

    link[i] = sha256(link[i-1] + canonical_json(event[i]))     link[-1] = GENESIS

(hex digests; the concatenation is text, hashed as UTF-8). Changing, removing
or reordering any stored event changes every later link, so
:func:`first_broken_link` names the first row that no longer fits.

A chain proves order and integrity only against someone who cannot rewrite
the whole tail: the service should also send the latest link to the hub
(through the outbox), which anchors it outside the hall board.

Events are plain JSON-able dicts (see :func:`voting.hall.events.event_to_dict`);
this module knows nothing else about them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "GENESIS",
    "canonical_json",
    "link_hash",
    "chain",
    "first_broken_link",
]

GENESIS = "0" * 64
"""The link before the first event."""


def _check(value: Any, path: str = "event") -> None:
    # Only values whose JSON text is unambiguous: a float's text differs
    # between encoders (1e16 vs 1e+16), and a non-str key is silently turned
    # into a string, so two different events could hash alike.
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: key {key!r} is not a string")
            _check(item, f"{path}.{key}")
        return
    raise TypeError(f"{path}: {type(value).__name__} has no canonical JSON form")


def canonical_json(event: Mapping[str, Any]) -> str:
    """The one text of an event that is hashed: keys sorted, no spaces,
    non-ASCII kept as is (UTF-8 when hashed). Only None, bool, int, str,
    lists and str-keyed dicts are allowed; anything else is a TypeError."""
    _check(event)
    return json.dumps(
        event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def link_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    """sha256 hex of ``prev_hash`` followed by the event's canonical JSON."""
    return hashlib.sha256((prev_hash + canonical_json(event)).encode("utf-8")).hexdigest()


def chain(events: Iterable[Mapping[str, Any]], prev_hash: str = GENESIS) -> list[str]:
    """The link hash of each event in turn, starting after ``prev_hash``."""
    links = []
    for event in events:
        prev_hash = link_hash(prev_hash, event)
        links.append(prev_hash)
    return links


def first_broken_link(
    records: Iterable[tuple[Mapping[str, Any], str]], prev_hash: str = GENESIS
) -> int | None:
    """Index of the first stored ``(event, stored_hash)`` whose hash is not
    the link computed from the previous records, or None if all fit.

    An event that cannot be encoded canonically counts as broken there.
    """
    for index, (event, stored) in enumerate(records):
        try:
            expected = link_hash(prev_hash, event)
        except (TypeError, ValueError):
            return index
        if expected != stored:
            return index
        prev_hash = expected
    return None
