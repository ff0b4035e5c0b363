"""Time and ids as the whole project writes them.

Wall-clock times are stored as UTC ISO 8601 with milliseconds; durations are
measured with the monotonic clock. Message ids are UUIDv7: made at the
source, unique, and ordered by the time they were made.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timezone


def iso_utc(ts: float | None = None) -> str:
    """``2026-11-22T10:15:03.120Z`` for a Unix time (now when None)."""
    dt = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """Unix time of an ISO 8601 string (a trailing Z is accepted)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


_last_ms = 0
_seq = 0


def uuid7() -> str:
    """A UUIDv7 (RFC 9562) string, monotonic within this process."""
    global _last_ms, _seq
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        # Same or earlier millisecond (clock stepped back): keep order with a counter.
        ms = _last_ms
        _seq += 1
        if _seq > 0xFFF:
            ms += 1
            _seq = 0
    else:
        _seq = int.from_bytes(os.urandom(2), "big") & 0x3FF
    _last_ms = ms
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (_seq & 0xFFF) << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))
