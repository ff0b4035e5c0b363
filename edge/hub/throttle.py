"""Attempts per address in a sliding window: logins, and enrollments that failed.

Kept in memory (a hub restart forgets them, which only helps the rightful
user). The table is pruned as it goes, and holds at most ``max_keys``
addresses, so a flood from many addresses cannot grow it without bound.
"""

from __future__ import annotations

from collections import OrderedDict, deque


class Throttle:
    """At most ``limit`` counted attempts per key within ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = 10_000) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        q = self._seen.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._seen[key]
            return None
        return q

    def full(self, key: str, now: float) -> bool:
        """Whether ``key`` has used up its attempts for now."""
        q = self._recent(key, now)
        return q is not None and len(q) >= self.limit

    def count(self, key: str, now: float) -> None:
        """Count one attempt of ``key``."""
        q = self._recent(key, now)
        if q is None:
            q = self._seen[key] = deque()
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)
        self._seen.move_to_end(key)
        q.append(now)

    def allow(self, key: str, now: float) -> bool:
        """Count an attempt if there is room for it; False when ``key`` is full."""
        if self.full(key, now):
            return False
        self.count(key, now)
        return True

    def __len__(self) -> int:
        return len(self._seen)
