"""Prometheus text exposition without global state.

Each node and the hub own a :class:`Registry`; roles add gauges and counters
to it, or register a collector called at scrape time (cheap snapshots of
state they already hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

Sample = tuple[dict[str, str], float]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items())) + "}"


@dataclass
class Metric:
    """One metric family: name, type, help text and its labelled values."""

    name: str
    kind: str  # "counter" or "gauge"
    help: str
    values: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)

    def set(self, value: float, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0.0) + amount

    def get(self, **labels: str) -> float:
        return self.values.get(tuple(sorted(labels.items())), 0.0)


class Registry:
    """The metrics of one process role, rendered as Prometheus text."""

    def __init__(self, const_labels: dict[str, str] | None = None) -> None:
        self.const_labels = dict(const_labels or {})
        self._metrics: dict[str, Metric] = {}
        self._collectors: list[Callable[[], Iterable[tuple[str, str, str, list[Sample]]]]] = []

    def counter(self, name: str, help: str) -> Metric:
        return self._metrics.setdefault(name, Metric(name, "counter", help))

    def gauge(self, name: str, help: str) -> Metric:
        return self._metrics.setdefault(name, Metric(name, "gauge", help))

    def collector(self, fn: Callable[[], Iterable[tuple[str, str, str, list[Sample]]]]) -> None:
        """``fn()`` yields (name, kind, help, [(labels, value), …]) at scrape time."""
        self._collectors.append(fn)

    def render(self) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help: str, samples: Iterable[Sample]) -> None:
            lines.append(f"# HELP {name} {help}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                lines.append(f"{name}{_labels({**self.const_labels, **labels})} {value:g}")

        for m in self._metrics.values():
            family(m.name, m.kind, m.help, [(dict(k), v) for k, v in m.values.items()])
        for fn in self._collectors:
            for name, kind, help, samples in fn():
                family(name, kind, help, samples)
        return "\n".join(lines) + "\n"
