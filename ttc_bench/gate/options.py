"""The flags of `ttc-bench compare` (and of `ttc-bench run --baseline`), and the settings
and outputs they make. cli.py adds them to its parser; nothing below the CLI sees argv or
a Namespace: the command gets a Settings and an Outputs.

Building the parser imports no numpy (the CLI starts instantly): the gate's types are
imported only when flags become settings.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def parse_fraction(text: str, *, allow_above_one: bool = False) -> float:
    """'5%' or '0.05' -> 0.05. Values of 1 or more need '%' unless allow_above_one (tokens:
    '1.5' = +150%), so '5' is not silently read as 500%."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction (0.05) or a percentage (5%)") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    if not raw.endswith("%") and value >= 1 and not allow_above_one:
        raise argparse.ArgumentTypeError(f"{text!r}: give a fraction below 1 (0.05) or a percentage (5%)")
    return value


def _token_fraction(text: str) -> float:
    return parse_fraction(text, allow_above_one=True)


def _positive_fraction(text: str) -> float:
    value = parse_fraction(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def add_arguments(parser: argparse.ArgumentParser, *, positionals: bool = True) -> None:
    """The compare flags; with positionals, also BASELINE and CURRENT (for `ttc-bench compare`).
    `ttc-bench run` adds them with positionals=False next to its own --baseline."""
    if positionals:
        parser.add_argument("baseline", help="baseline run folder (or its summary.json)")
        parser.add_argument("current", help="current run folder (or its summary.json)")
    g = parser.add_argument_group("regression gate")
    g.add_argument("--max-drop", type=parse_fraction, default=0.0, metavar="DROP",
                   help="accuracy drop tolerated: the gate fails only when the drop is significantly larger "
                        "than this (non-inferiority test), 0.02 or 2%% (default: 0)")
    g.add_argument("--max-token-increase", type=_token_fraction, default=None, metavar="INCREASE",
                   help="gate token cost too: fail when tokens per item rise significantly more than this, e.g. 20%% or 0.2")
    g.add_argument("--max-error-increase", type=parse_fraction, default=0.0, metavar="RISE",
                   help="rise of the error rate (requests that finally failed) tolerated, in points: 0.01 or 1%% (default: 0)")
    g.add_argument("--mde-target", type=_positive_fraction, default=None, metavar="EFFECT",
                   help="accuracy drop the gate must detect with 80%% power, else the verdict is inconclusive "
                        "(default: --max-drop + 5 points)")
    g.add_argument("--mid-p", action="store_true",
                   help="one sample per item: use the mid-p McNemar test (closer to the nominal level, more power) "
                        "instead of the exact one")
    g.add_argument("--fail-inconclusive", action="store_true",
                   help="exit 1 also when a gated metric is inconclusive (the suite is too small to see the target)")
    # No `choices`: the names come from the metric registry, which imports numpy; an unknown
    # name is refused with the list of registered ones when the comparison starts.
    g.add_argument("--metrics", nargs="+", default=None, metavar="METRIC",
                   help="metrics to compare, by their registered names (default: pass@1 pass@1-strict maj@k "
                        "errors tokens; others on request, e.g. pass@k and 'pass^k'; docs/metrics.md lists them)")
    g.add_argument("--junit", metavar="PATH", help="write JUnit XML (one test case per task x budget x metric)")
    g.add_argument("--markdown", metavar="PATH", help="write the markdown report (also appended to $GITHUB_STEP_SUMMARY when set)")
    g.add_argument("--json", dest="json_path", metavar="PATH", help="write the comparison as JSON")
    g.add_argument("--report-dir", metavar="DIR", help="write compare.md, compare.json and compare-junit.xml into DIR")


def settings_from(args: argparse.Namespace):
    """The gate's :class:`~ttc_bench.gate.results.Settings` from parsed flags."""
    from .results import Settings

    chosen = {"metrics": tuple(args.metrics)} if args.metrics else {}
    return Settings(
        max_drop=args.max_drop, max_token_increase=args.max_token_increase, max_error_increase=args.max_error_increase,
        mde_target=args.mde_target, fail_inconclusive=args.fail_inconclusive, mid_p=args.mid_p, **chosen,
    )


def outputs_from(args: argparse.Namespace):
    """Where to write the reports (:class:`~ttc_bench.gate.results.Outputs`) from parsed flags."""
    from .results import Outputs

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    return Outputs(path(args.report_dir), path(args.junit), path(args.markdown), path(args.json_path))


# The gate flags `run` takes for --baseline, and the values that mean "not given".
_GATE_DEFAULTS = {
    "max_drop": 0.0, "max_token_increase": None, "max_error_increase": 0.0, "mde_target": None, "mid_p": False,
    "fail_inconclusive": False, "metrics": None, "junit": None, "markdown": None, "json_path": None, "report_dir": None,
}  # fmt: skip


def check_before_run(args: argparse.Namespace) -> None:
    """`run --baseline`: what the comparison after the run will need, checked before the run
    spends anything (a typo in the baseline folder or a metric name would otherwise show up
    only after a whole paid sweep); gate flags without --baseline are refused, not ignored."""
    from ..errors import UserError

    given = [name for name, default in _GATE_DEFAULTS.items() if getattr(args, name, default) != default]
    if args.baseline is None:
        if given:
            flag = "--json" if given[0] == "json_path" else "--" + given[0].replace("_", "-")
            raise UserError(f"{flag} sets the regression gate, which runs only with --baseline RUN_DIR; add it or drop {flag}")
        return
    from ..metrics import registry
    from ..store import RunFolder

    RunFolder.resolve(Path(args.baseline))
    known = [m.name for m in registry.metrics()]
    unknown = [name for name in args.metrics or () if name not in known]
    if unknown:
        raise UserError(f"unknown metric {unknown[0]!r}; choose from {', '.join(known)}")
