"""The metrics of one process, in a prometheus-client registry of its own.

Each node and the hub own a :class:`Metrics`, which holds a
``prometheus_client.CollectorRegistry`` (never the library's global
``REGISTRY``), so two nodes in one test process do not share counters.

Roles add to it in two ways:

* instruments they update as things happen: :meth:`Metrics.counter`,
  :meth:`Metrics.gauge` and :meth:`Metrics.histogram` return ordinary
  prometheus-client objects (``inc()``, ``labels(code=…).inc()``,
  ``observe()``, ``time()``);
* a snapshot function, :meth:`Metrics.collector`, called at scrape time,
  which returns plain data — ``(name, kind, help, [(labels, value), …])`` —
  about state the role already holds (who is connected, frames drawn).
  Roles keep that function free of prometheus-client types; this module
  turns the tuples into metric families.

Labels every series carries (the node's name) are added when the page is
rendered, since prometheus-client has no registry-wide constant labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

Sample = tuple[dict[str, str], float]
Family = tuple[str, str, str, list[Sample]]
Snapshot = Callable[[], Iterable[Family]]
_Instrument = TypeVar("_Instrument", Counter, Gauge, Histogram)

#: The Content-Type of what :meth:`Metrics.render` returns: ``generate_latest`` writes text format 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Buckets for durations of a few milliseconds up to a request timeout, in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _SnapshotCollector(Collector):
    """Adapts a role's snapshot function to prometheus-client's collector interface."""

    def __init__(self, fn: Snapshot) -> None:
        self._fn = fn

    def collect(self) -> Iterator[Metric]:
        for name, kind, help, samples in self._fn():
            yield _family(name, kind, help, samples)


def _family(name: str, kind: str, help: str, samples: Iterable[Sample]) -> Metric:
    if kind == "counter":
        # prometheus-client names a counter family without "_total" and its samples with it.
        base = name.removesuffix("_total")
        family = Metric(base, help, "counter")
        sample_name = base + "_total"
    elif kind == "gauge":
        family = Metric(name, help, "gauge")
        sample_name = name
    else:
        raise ValueError(f"metric {name}: a snapshot yields counters or gauges, not {kind!r}")
    for labels, value in samples:
        family.add_sample(sample_name, {k: str(v) for k, v in labels.items()}, float(value))
    return family


class _WithLabels(Collector):
    """The registry as scraped: every sample also carries the process's constant labels."""

    def __init__(self, registry: CollectorRegistry, labels: dict[str, str]) -> None:
        self._registry = registry
        self._labels = labels

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            if self._labels:
                labelled = Metric(family.name, family.documentation, family.type, family.unit)
                labelled.samples = [s._replace(labels={**self._labels, **s.labels}) for s in family.samples]
                family = labelled
            yield family


class Metrics:
    """The metrics of one process (a node or the hub), rendered as Prometheus text.

    ``const_labels`` (for a node, ``{"node": <its name>}``) are added to
    every series on the page.
    """

    def __init__(self, const_labels: dict[str, str] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.const_labels = dict(const_labels or {})
        self._instruments: dict[str, Counter | Gauge | Histogram] = {}

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        """A counter named ``name`` (ending in ``_total``); the same object if asked again."""
        return self._instrument(name, lambda: Counter(name, help, labels, registry=self.registry))

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge; the same object if asked again."""
        return self._instrument(name, lambda: Gauge(name, help, labels, registry=self.registry))

    def histogram(self, name: str, help: str, labels: Sequence[str] = (),
                  buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
        """A histogram (``_bucket``, ``_sum``, ``_count``); the same object if asked again."""
        return self._instrument(name, lambda: Histogram(name, help, labels, registry=self.registry,
                                                        buckets=buckets))

    def _instrument(self, name: str, make: Callable[[], _Instrument]) -> _Instrument:
        # Asking twice returns the first one: prometheus-client would refuse a duplicate name.
        if name not in self._instruments:
            self._instruments[name] = make()
        return self._instruments[name]  # type: ignore[return-value]

    def collector(self, fn: Snapshot) -> None:
        """Call ``fn()`` at every scrape; it returns ``(name, kind, help, [(labels, value), …])``.

        ``kind`` is ``"counter"`` (the name ends in ``_total``) or ``"gauge"``.
        """
        self.registry.register(_SnapshotCollector(fn))

    def render(self) -> str:
        """The ``/metrics`` page (Prometheus text format; serve it with :data:`CONTENT_TYPE`)."""
        return generate_latest(_WithLabels(self.registry, self.const_labels)).decode("utf-8")
