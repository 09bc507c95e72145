"""The metric registry: a metric is one function of an item's tally plus one registration.

Registering a metric is all it takes for the summary, the gate and the report to know it::

    @metric("pass^k", title="all of k samples correct (reliability)", over_k=True, key="pass_all")
    def pass_all(item: ItemTally) -> np.ndarray:
        ...  # the item's value for every k = 1..item.n

- **summary.json**: every metric of kind ``accuracy`` with a ``key`` is computed per task x
  budget (and level) from its item values: a mean over items with its SE and 95% interval,
  ``{mean, se, ci95, n}``. A curve (``over_k``) is stored in each entry of the group's
  ``points`` (k = 1 .. ``samples_per_item``) under ``key``, over the items with at least k
  scored samples; a scalar in the group itself under ``key``.
- **the gate** (``ttc-bench compare --metrics NAME``): one cell per task x budget over the
  paired items; a curve at the largest k, only from k = 2 (at k = 1 a curve is a
  one-sample figure: pass@1 for the built-in ones). The metrics with ``gate=True`` form the
  default set.
- **the report**: lists the metrics with :func:`metrics` and reads each from a summary
  group with :meth:`Metric.read` (the contract below).

A metric registered ``on_request`` (the curves of selection strategies, docs/strategies.md)
enters summary.json only for the runs that name it; the gate computes it on request.

Contract for readers of summary.json (the report, notebooks)::

    from ttc_bench.metrics import registry
    for m in registry.metrics():          # registration order
        m.name      # "maj@k": the name --metrics and the gate use
        m.title     # "majority vote of k samples": one line for a legend
        m.over_k    # True: a curve over k (m.label(4) == "maj@4"); False: one value per group
        m.kind      # "accuracy" (0..1, higher is better), "errors" (a rate), "tokens" (per sample)
        m.key       # where the group holds it (None: the gate only, not in summary.json)
        m.read(group, k)   # the value in a summary group (below), or None
        m.curve(group)     # [(k, value), ...] of a curve, in k order

``read(group, k)`` returns, for an ``accuracy`` metric, the ``{mean, se, ci95, n}`` record
(fractions; ``mean`` None when no item has k samples); for the other kinds the plain
number the summary holds (``errors``: the group's pooled ``error_rate``; ``tokens``: its
``mean_completion_tokens`` per scored sample; the gate compares item means of the same
figures, tokens per item at k samples). A curve is read at point k (``k`` None: the
group's largest k), a scalar ignores ``k``. None when the group does not hold the metric:
a summary written before the metric was registered, or a k beyond the group's samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

KINDS = ("accuracy", "errors", "tokens")
SAMPLES = ("scored", "all")


@dataclass(frozen=True)
class Metric:
    """One registered metric. ``item`` is the one function: an item's value from its
    :class:`~ttc_bench.metrics.tally.ItemTally` (a float), or for ``over_k`` its values for
    k = 1 .. the item's scored samples (an array)."""

    name: str
    item: Callable[[Any], Any]
    title: str
    over_k: bool = False
    key: str | None = None
    kind: str = "accuracy"
    # "scored": the item's scored samples only (errors left out, the tally has n >= 1);
    # "all": every sample, failed requests included (they are wrong answers or errors).
    samples: str = "scored"
    gate: bool = False  # in the gate's default set
    # The item value is the share of the item's samples that are right (or errored): the
    # gate's power model then knows its variance per sample (paired.py, power.py).
    per_sample: bool = False
    # A scalar that is the k = 1 point of this (registered) curve, as pass@1 is of pass@k:
    # the summary copies that point instead of computing the same figure again.
    point_of: str | None = None
    # In summary.json only when a run asks for it (the curve of a strategy the run names in
    # --strategies, such as verified-maj@k): a run without it keeps today's summary. The
    # gate computes it whenever --metrics names it.
    on_request: bool = False

    def label(self, k: int | None = None) -> str:
        """The name at one k: "maj@k" at 4 is "maj@4"."""
        return f"{self.name[:-1]}{k}" if self.over_k and k is not None else self.name

    def read(self, group: dict, k: int | None = None) -> Any:
        """This metric in one group of summary.json (see the module docstring)."""
        if self.key is None:
            return None
        if not self.over_k:
            return group.get(self.key)
        points = group.get("points") or []
        if k is None:
            k = len(points)
        if not 1 <= k <= len(points):
            return None
        return points[k - 1].get(self.key)

    def curve(self, group: dict) -> list[tuple[int, Any]]:
        """(k, value) of every point of a group that holds this curve."""
        if not self.over_k or self.key is None:
            return []
        return [(p["k"], p[self.key]) for p in group.get("points") or [] if self.key in p]


_REGISTRY: dict[str, Metric] = {}


def register(m: Metric) -> Metric:
    """Add a metric (its name and summary key must be new); returns it."""
    problems = []
    if m.name in _REGISTRY:
        problems.append(f"the name {m.name!r} is taken")
    if m.kind not in KINDS:
        problems.append(f"kind must be one of {', '.join(KINDS)}")
    if m.samples not in SAMPLES:
        problems.append(f"samples must be one of {', '.join(SAMPLES)}")
    if m.over_k and not m.name.endswith("k"):
        problems.append("a curve's name ends in k (maj@k), so that label(4) reads maj@4")
    if m.over_k and m.samples != "scored":
        problems.append("a curve over k is over scored samples")
    if m.point_of is not None and m.over_k:
        problems.append("only a scalar is the point of a curve")
    if m.key is not None and any(o.key == m.key and o.over_k == m.over_k for o in _REGISTRY.values()):
        problems.append(f"the summary key {m.key!r} is taken")
    if problems:
        raise ValueError(f"cannot register metric {m.name!r}: {'; '.join(problems)}")
    _REGISTRY[m.name] = m
    return m


def unregister(name: str) -> None:
    """Remove a metric (a test's own, when the test is done)."""
    _REGISTRY.pop(name, None)


def metric(name: str, *, title: str, **options) -> Callable:
    """Decorator form of :func:`register`: the decorated function is the metric's ``item``."""

    def add(fn: Callable) -> Callable:
        register(Metric(name, fn, title, **options))
        return fn

    return add


def metrics() -> list[Metric]:
    """Every registered metric, in registration order."""
    return list(_REGISTRY.values())


def get(name: str) -> Metric:
    """The metric of that name; KeyError names the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(_REGISTRY)}") from None


def in_summary(requested=()) -> list[Metric]:
    """The metrics the summary computes from item values: accuracy metrics with a key (an
    ``on_request`` one only when its name is among ``requested``)."""
    return [
        m for m in _REGISTRY.values()
        if m.kind == "accuracy" and m.key is not None and (not m.on_request or m.name in requested)
    ]  # fmt: skip


def gate_default() -> tuple[str, ...]:
    """The names the gate checks when none are given."""
    return tuple(m.name for m in _REGISTRY.values() if m.gate)
