"""The strategy registry: how a run's samples become one answer per item, and what it costs.

A strategy is one module of this package and one :func:`register` call in it
(docs/strategies.md defines each one). Its kind says where its points come from:

- ``selection``: a rule applied to the samples a run already holds, without a request
  (maj, verified-maj, best-of). Its curve over k is a registered metric (``metric``) that
  summary.json carries for the runs that name the strategy; it costs what its k samples
  cost, since the gold-free checker spends no model tokens.
- ``sampling``: a rule that decides, while the run samples, how many samples each item
  gets (adaptive). Its point is the majority vote over the samples drawn, at the tokens
  actually spent.
- ``requests``: extra requests after sampling (selfverify), stored in the run folder's
  strategies/samples.jsonl; its point counts the samples' tokens and its own.

A strategy that reads the family's gold-free checker (``needs_checker``) applies only to
the tasks whose family has one (sudoku, crossword): the others (arithmetic, mcq) keep
maj@k and the summary says so, rather than showing a plain majority vote under the
strategy's name. A run none of whose tasks has a checker is refused in one line, before
any request.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError

KINDS = ("selection", "sampling", "requests")
# The run folder's subfolder holding the rows of the strategies' own requests
# (strategies/samples.jsonl: a sample store of its own, strategy_requests.py).
STORE_FOLDER = "strategies"
# What a run does without --strategies: today's majority vote, today's summary.
DEFAULT = ("maj",)


@dataclass(frozen=True)
class Strategy:
    name: str  # what --strategies and the suite's `strategies` list take
    title: str  # one line for help and reports
    kind: str
    metric: str | None = None  # selection: the registered curve (metrics/definitions.py)
    needs_checker: bool = False
    # Takes a count after a colon ("revise:2", at most this many); 0: takes none.
    max_count: int = 0


_REGISTRY: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    """Add a strategy (a new name; a selection strategy names its metric)."""
    problems = []
    if strategy.name in _REGISTRY:
        problems.append(f"the name {strategy.name!r} is taken")
    if strategy.kind not in KINDS:
        problems.append(f"kind must be one of {', '.join(KINDS)}")
    if (strategy.kind == "selection") != (strategy.metric is not None):
        problems.append("a selection strategy, and only one, names the metric of its curve")
    if not strategy.name or ":" in strategy.name or " " in strategy.name:
        problems.append("a name is one word without ':'")
    if problems:
        raise ValueError(f"cannot register strategy {strategy.name!r}: {'; '.join(problems)}")
    _REGISTRY[strategy.name] = strategy
    return strategy


def strategies() -> list[Strategy]:
    """Every registered strategy, in registration order."""
    return list(_REGISTRY.values())


def get(name: str) -> Strategy:
    """The strategy of a name (``revise:2`` is ``revise``'s)."""
    try:
        return _REGISTRY[name.split(":", 1)[0]]
    except KeyError:
        raise UserError(f"unknown strategy {name!r}; known: {', '.join(_REGISTRY)} (docs/strategies.md)") from None


def parse_strategies(names) -> tuple[str, ...]:
    """The validated, de-duplicated strategy names of --strategies or a suite's list, in
    the order given; one line naming the known ones for anything else."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise UserError(f'strategies must be a list of names such as ["maj", "verified-maj"], got {names!r}')
    if not names:
        raise UserError(f"name at least one strategy; known: {', '.join(_REGISTRY)}")
    out: list[str] = []
    for name in names:
        strategy = get(name)
        base, colon, count = name.partition(":")
        if colon and not strategy.max_count:
            raise UserError(f"strategy {base!r} takes no argument, got {name!r}")
        if strategy.max_count and not (count.isdigit() and 1 <= int(count) <= strategy.max_count):
            raise UserError(f"strategy {base} takes a count from 1 to {strategy.max_count} ({base}:2), got {name!r}")
        if strategy.max_count:
            name = f"{base}:{int(count)}"
        if name not in out:
            out.append(name)
    return tuple(out)


def counts(names, base: str) -> list[int]:
    """The counts given to one strategy among ``names`` (revise:1 revise:3 -> [1, 3])."""
    return sorted(int(n.split(":", 1)[1]) for n in names if n.split(":", 1)[0] == base and ":" in n)


def selection_metrics(names) -> tuple[str, ...]:
    """The metric names of the selection strategies among ``names`` (what summary.json adds)."""
    return tuple(s.metric for s in map(get, names) if s.kind == "selection" and s.metric is not None)


def without_checker(names, tasks) -> list[str]:
    """The tasks a strategy that needs the gold-free checker cannot apply to (their family
    has none): in a mixed run they keep maj@k only, and the summary says so in one line.
    Refused in one line when no task of the run has a checker, where the strategy would be
    nothing but a plain majority vote. ``tasks``: (task name, adapter class or instance)."""
    needing = [n for n in names if get(n).needs_checker]
    if not needing:
        return []
    lacking = [task for task, adapter in tasks if not getattr(adapter, "has_checker", False)]
    if lacking and len(lacking) == len(list(tasks)):
        raise UserError(
            f"strategy {needing[0]} needs a gold-free checker, and task{'s' if len(lacking) > 1 else ''} "
            f"{', '.join(lacking)} {'have' if len(lacking) > 1 else 'has'} none (sudoku and crossword have one); "
            "drop it or add --tasks sudoku crossword"
        )
    return lacking
