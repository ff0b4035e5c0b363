"""Readings for the 24-hour and 7-day graphs: averaged in steps, kept locally, thinned by age.

Samples (UPS voltages, charge, load, mains present, generator running, fuel)
are averaged over ``step_s`` (one row of the 24 h graph, and one telemetry
message to the hub) and over ``10 × step_s`` (one row of the 7 d graph).
Rows older than their graph are deleted as new ones are written, so the
table stays a few thousand rows on a board's SD card.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

DAY_S = 86_400
WEEK_S = 7 * DAY_S
COARSE = 10  # the 7 d graph's step is this many fine steps


@dataclass
class _Bucket:
    start: int
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            if value is None or not math.isfinite(value):
                continue  # a missing reading is missing, not zero
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: round(self.sums[k] / self.counts[k], 3) for k in sorted(self.sums)}


@dataclass(frozen=True, slots=True)
class Row:
    """One averaged step: ``bucket`` is its start (Unix seconds), ``step`` its length."""

    step: int
    bucket: int
    values: dict[str, float]


class History:
    """Averages samples into fine and coarse steps; closed steps come back as rows to store."""

    def __init__(self, step_s: float = 60.0) -> None:
        self.fine = max(1, int(step_s))
        self.coarse = self.fine * COARSE
        self._buckets: dict[int, _Bucket] = {}

    def add(self, values: dict[str, float], now: float) -> list[Row]:
        """Add one sample taken at ``now`` (Unix seconds); return the rows it closed."""
        closed: list[Row] = []
        for step in (self.fine, self.coarse):
            start = int(now // step * step)
            bucket = self._buckets.get(step)
            if bucket is not None and bucket.start != start:
                if bucket.sums:
                    closed.append(Row(step, bucket.start, bucket.means()))
                bucket = None
            if bucket is None:
                bucket = self._buckets[step] = _Bucket(start)
            bucket.add(values)
        return closed

    def keep_s(self, step: int) -> int:
        return DAY_S if step == self.fine else WEEK_S


def store(conn: sqlite3.Connection, rows: list[Row], history: History) -> None:
    """Write closed rows and drop those past their graph (inside the caller's transaction)."""
    for row in rows:
        conn.execute("INSERT OR REPLACE INTO power_history (step, bucket, vals) VALUES (?, ?, ?)",
                     (row.step, row.bucket, json.dumps(row.values)))
        conn.execute("DELETE FROM power_history WHERE step = ? AND bucket < ?",
                     (row.step, row.bucket - history.keep_s(row.step)))


def query(conn: sqlite3.Connection, step: int, since: float) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT bucket, vals FROM power_history WHERE step = ? AND bucket >= ? ORDER BY bucket",
                        (step, int(since))).fetchall()
    return [{"t": bucket, **json.loads(vals)} for bucket, vals in rows]
