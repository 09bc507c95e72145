"""What a comparison holds: the gate's settings, one result per task x budget x metric
cell, the comparison with its verdict, and how their numbers read in text.

Verdicts (gate.py decides them): ``regression``, ``improvement``, ``inconclusive``, ``ok``
and ``ungated`` (reported only: tokens without --max-token-increase). Exit code: 1 when a
gated cell is a regression (or inconclusive, with fail_inconclusive), 0 otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..metrics import registry
from ..metrics.paired import ALPHA
from ..metrics.power import POWER

DEFAULT_MDE_TARGET = 0.05  # accuracy and errors: 5 points beyond the tolerance
DEFAULT_TOKEN_MDE_TARGET = 0.05  # tokens: 5% of the baseline beyond the tolerance
VERDICTS = ("regression", "improvement", "inconclusive", "ok", "ungated")


@dataclass
class Settings:
    """The gate's settings (``ttc-bench compare`` flags, options.py): tolerances, the
    metrics gated (registered names; default: the registry's default set), the test."""

    max_drop: float = 0.0
    max_token_increase: float | None = None
    max_error_increase: float = 0.0
    mde_target: float | None = None  # None: the tolerance + the default
    metrics: tuple[str, ...] = field(default_factory=registry.gate_default)
    fail_inconclusive: bool = False
    mid_p: bool = False
    alpha: float = ALPHA
    power: float = POWER

    def tolerance(self, kind: str) -> float:
        if kind == "tokens":
            return self.max_token_increase or 0.0
        return self.max_error_increase if kind == "errors" else self.max_drop

    def target(self, kind: str) -> float:
        """The change the gate must be able to see (with power 0.8): decides `inconclusive`.
        A change the size of the tolerance is allowed, so the target lies beyond it."""
        if kind == "accuracy" and self.mde_target is not None:
            return self.mde_target
        default = DEFAULT_TOKEN_MDE_TARGET if kind == "tokens" else DEFAULT_MDE_TARGET
        return self.tolerance(kind) + default


@dataclass
class MetricResult:
    """One task x budget x metric cell. Accuracy and error values are fractions (0..1); for
    tokens, baseline/current are tokens per item and diff, ci95, se and mde are relative to
    the baseline (0.2 = +20%). ``mde`` is a change in the worse direction (a drop of
    accuracy, a rise of errors or tokens), tolerance included."""

    task: str
    budget: str
    metric: str  # the metric's label at this cell's k: "pass@1", "maj@4", "errors" ...
    kind: str  # "accuracy", "errors" or "tokens"
    items: int
    k: int
    baseline: float
    current: float
    diff: float
    se: float
    ci95: tuple[float, float]
    p_value: float  # two-sided: 2 x the smaller one-sided p-value
    method: str  # "mcnemar-exact", "mcnemar-midp", "tango-score" or "paired-t"
    p_worse: float = 1.0  # one-sided: H0 "not worse than the tolerance"
    p_better: float = 1.0  # one-sided: H0 "not better than the tolerance"
    discordant: tuple[int, int] | None = None  # one sample per item: (items worse, items better)
    correlation: float | None = None  # between-run Pearson correlation of the item values
    abs_diff: float | None = None  # tokens: the change in tokens per item (diff is relative)
    gated: bool = True
    in_family: bool = True  # counted in the Holm family (False: no item differs)
    tolerance: float | None = None
    target: float = DEFAULT_MDE_TARGET
    alpha: float = ALPHA  # the per-cell level the MDE is computed at
    p_adjusted: float | None = None
    mde: float = math.inf
    items_needed: int | None = None
    verdict: str = "ok"
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.task} {self.budget} {self.metric}"

    @property
    def worse_by(self) -> float:
        """How much worse the current run is, as a positive number (negative = better)."""
        return -self.diff if self.kind == "accuracy" else self.diff


@dataclass
class Comparison:
    baseline: dict
    current: dict
    settings: Settings
    results: list[MetricResult]
    paired: dict
    notes: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    def gated(self) -> list[MetricResult]:
        return [r for r in self.results if r.gated]

    def by_verdict(self, verdict: str) -> list[MetricResult]:
        return [r for r in self.results if r.gated and r.verdict == verdict]

    @property
    def failed(self) -> bool:
        return bool(self.by_verdict("regression")) or (
            self.settings.fail_inconclusive and bool(self.by_verdict("inconclusive"))
        )

    @property
    def status(self) -> str:
        """One word for the headline: regression, inconclusive, improvement or ok."""
        if self.by_verdict("regression"):
            return "regression"
        if self.by_verdict("inconclusive"):
            return "inconclusive"
        if self.by_verdict("improvement"):
            return "improvement"
        return "ok"


def exit_code(comparison: Comparison) -> int:
    """1 when a gated cell regressed (or was inconclusive with fail_inconclusive), else 0."""
    return 1 if comparison.failed else 0


@dataclass
class Outputs:
    """Where `compare` writes its reports (None: not written); render.write_outputs."""

    report_dir: Path | None = None  # compare.md, compare.json and compare-junit.xml
    junit: Path | None = None
    markdown: Path | None = None
    json: Path | None = None


# --------------------------------------------------------------------------- numbers as text


def fmt_p(p: float, named: bool = False) -> str:
    """'0.013' / '<0.001'; named: 'p=0.013' / 'p<0.001'."""
    text = "<0.001" if p < 0.001 else f"{p:.3f}"
    return ("p" if text[0] == "<" else "p=") + text if named else text


def fmt_effect(x: float, kind: str, signed: bool = False) -> str:
    """An accuracy or error-rate difference in points ("-12.5 pts") or a token change in
    percent ("+20%")."""
    if x is None or not math.isfinite(x):
        return "n/a"
    x = round(100 * x, 0 if kind == "tokens" else 1) + 0.0  # + 0.0: never print "-0.0"
    sign = "+" if signed and x >= 0 else ""
    return f"{sign}{x:.0f}%" if kind == "tokens" else f"{sign}{x:.1f} pts"


def detectable(r: MetricResult) -> bool:
    """False when no change of any size could be detected with this few items."""
    return math.isfinite(r.mde) and not (r.kind != "tokens" and r.mde > 1)


def fmt_mde(r: MetricResult) -> str:
    if not detectable(r):
        return "n/a" if r.kind == "tokens" else "> 100 pts"
    return fmt_effect(r.mde, r.kind)
