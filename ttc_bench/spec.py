"""RunSpec: a suite (TOML) plus command-line overrides, validated before any request.

Suite format (tasks/*.toml)::

    name = "quick"
    description = "..."
    seed = 0
    samples = 4
    budgets = ["forced:32", "forced:128"]
    # strategies = ["maj", "verified-maj"]  # optional (docs/strategies.md); default ["maj"]
    # temperature = 0.7       # optional: sent only when set (many reasoning APIs refuse it)
    # top_p = 0.95

    [[tasks]]
    family = "arithmetic"      # a registered family (ttc-bench tasks)
    name = "arithmetic"        # optional; defaults to the family
    levels = ["add-1d"]        # optional; defaults to the family's default levels
    items = 8                  # items per level
    # any other key is an option of the family (e.g. mcq: preset, path, columns)
"""

from __future__ import annotations

import difflib
import math
import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .adapters import TaskAdapter, get_family
from .adapters.shipped import data_file
from .errors import UserError
from .budgets import Budget, parse_budgets
from .models.profiles import BY_NAME, PROFILE_CHOICES
from .models.urls import redact_url
from .strategies import DEFAULT as DEFAULT_STRATEGIES
from .strategies import parse_strategies, without_checker

DEFAULT_SUITE = "quick"
SHIPPED_SUITES = ("quick", "standard", "ci-smoke")
DEFAULT_ITEMS = 10
# Bounds on counts: far above any real sweep, far below what overflows or exhausts memory.
MAX_ITEMS = 10_000_000  # items per task level
MAX_SAMPLES = 100_000  # samples per item and budget
SUITE_KEYS = {
    "name", "description", "seed", "samples", "budgets", "temperature", "top_p", "tasks", "prices", "n_parameter",
    "strategies",
}  # fmt: skip
PRICE_KEYS = {"input_per_million", "output_per_million"}
TASK_KEYS = {"family", "name", "levels", "items"}


@dataclass
class TaskSpec:
    name: str
    family: str
    levels: list[str]
    items: int
    options: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def adapter(self) -> TaskAdapter:
        return get_family(self.family)(self.name, dict(self.options))


@dataclass
class RunSpec:
    suite: str
    tasks: list[TaskSpec]
    budgets: list[Budget]
    samples: int
    seed: int = 0
    # Sampling values are sent only when set (None: the provider's default is in force).
    temperature: float | None = None
    top_p: float | None = None
    model: str | None = None  # None: the embedded model
    base_urls: list[str] | None = None  # several: replicas of one model, shared by load
    api: str = "auto"  # a provider profile name, or auto (detected)
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int | None = None
    out: Path = Path("results")
    run_id: str | None = None
    gguf: str | None = None
    fresh: bool = False
    timeout_s: float = 600.0
    retry_window_s: float = 300.0  # how long transient failures of one request are retried
    # Ask for all samples of an (item, budget) in one request with the `n` parameter.
    n_parameter: bool = False
    prices: dict[str, float] | None = None  # USD per million input/output tokens
    params: float | None = None  # model parameter count, for the FLOPs axis
    # Run through the provider's Batch API (upload, poll, import) instead of live requests.
    batch: bool = False
    # "I/N": this run holds shard I (1-based) of N; items are split by a hash of their id.
    shard: str | None = None
    # How samples become one answer (docs/strategies.md); names, validated.
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES

    @property
    def embedded(self) -> bool:
        return self.base_urls is None

    def sampling(self) -> dict:
        return {"temperature": self.temperature, "top_p": self.top_p}

    def identity(self, endpoint_identity: str, profile: str) -> dict:
        """What decides the results (not how many items or samples: those can grow in place)."""
        return {
            "endpoint": endpoint_identity,
            "model": self.model,
            "api": profile,
            "tasks": [{"name": t.name, "family": t.family, "levels": t.levels, "options": t.options} for t in self.tasks],
            "budgets": [b.label for b in self.budgets],
            "seed": self.seed,
            "sampling": self.sampling(),
        }

    def default_run_id(self, endpoint_identity: str, model_name: str, profile: str) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(endpoint_identity, profile), sort_keys=True).encode()).hexdigest()
        # Both parts come from user input (a suite's name, a model id): one folder name,
        # never a path, so the run folder stays inside --out.
        # Shards share the settings hash (identity leaves the shard out) and differ only by
        # the suffix, so `ttc-bench merge` can recognise them as parts of one run.
        suffix = "-shard{}of{}".format(*parse_shard(self.shard)) if self.shard else ""
        return f"{folder_slug(self.suite, 'suite')}-{folder_slug(model_name, 'model')}-{digest[:8]}{suffix}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["budgets"] = [b.label for b in self.budgets]
        data["base_urls"] = [redact_url(u) for u in self.base_urls] if self.base_urls else None
        data["out"] = str(self.out)
        data.pop("fresh")
        if tuple(self.strategies) == DEFAULT_STRATEGIES:
            data.pop("strategies")  # a run without --strategies records what it always did
        else:
            data["strategies"] = list(self.strategies)
        return data


def folder_slug(text: str, fallback: str, limit: int = 40) -> str:
    """``text`` as one safe folder-name part: letters, digits and ``._-`` only, no leading
    dot (so never ``.`` or ``..``)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:limit].strip("-.")
    return slug or fallback


def _suggest(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _reject_unknown(table: dict, known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise UserError(f"{where}: unknown key {key!r}{_suggest(key, known)}; known keys: {', '.join(sorted(known))}")


def read_suite(name_or_path: str) -> tuple[str, dict, Path | None]:
    """(suite name, parsed TOML, folder of the suite file or None) for a name or a path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise UserError(f"suite file {path} not found")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"suite {path} is not UTF-8 text; save it as UTF-8 TOML") from None
        label, folder = str(path), path.resolve().parent
    else:
        resource = data_file(f"{name_or_path}.toml")
        if not resource.is_file():
            raise UserError(f"unknown suite {name_or_path!r}; shipped suites: {', '.join(SHIPPED_SUITES)} (or give a .toml path)")
        text, label, folder = resource.read_text(encoding="utf-8"), name_or_path, None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"suite {label}: malformed TOML: {exc}") from None
    _reject_unknown(data, SUITE_KEYS, f"suite {label}")
    return str(data.get("name") or path.stem), data, folder


def parse_count(text: str) -> float:
    """A parameter count such as 135M, 8B, 1.5e9."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbt]?)\s*", text.lower())
    if not match:
        raise UserError(f"bad parameter count {text!r}: use e.g. 135M, 8B or 1.5e9")
    scale = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[match.group(2)]
    return float(match.group(1)) * scale


MAX_SHARDS = 100_000


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (shard I of N, 1-based) as (I, N); one line when it is not that."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise UserError(f"--shard must look like I/N (shard I of N, from 1), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS or not 1 <= index <= count:
        raise UserError(f"--shard {text}: I must be from 1 to N, and N from 1 to {MAX_SHARDS:,}")
    return index, count


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{what} must be a whole number, got {value!r}")
    return value


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{what} must be a number, got {value!r}")
    return float(value)


def _optional_number(value: Any, what: str) -> float | None:
    return None if value is None else _number(value, what)


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{what} must be true or false, got {value!r}")
    return value


def _positive_int(value: Any, what: str, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"{what} must be a positive whole number, got {value!r}")
    if maximum is not None and value > maximum:
        raise UserError(f"{what} must be at most {maximum:,}, got {value:,}")
    return value


def _prices(table: Any, price_input: float | None, price_output: float | None, where: str) -> dict[str, float] | None:
    prices = {}
    if table is not None:
        if not isinstance(table, dict):
            raise UserError(f"{where}: prices must be a table: prices = {{input_per_million = 1.1, output_per_million = 4.4}}")
        _reject_unknown(table, PRICE_KEYS, f"{where} prices")
        prices.update(table)
    if price_input is not None:
        prices["input_per_million"] = price_input
    if price_output is not None:
        prices["output_per_million"] = price_output
    for key, value in prices.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise UserError(f"price {key} must be a non-negative number of USD per million tokens, got {value!r}")
    if prices and set(prices) != PRICE_KEYS:
        raise UserError("give both prices: --price-input and --price-output (USD per million tokens)")
    return {k: float(v) for k, v in prices.items()} or None


def _task_from_table(table: dict, where: str, folder: Path | None) -> TaskSpec:
    if not isinstance(table, dict) or "family" not in table:
        raise UserError(f"{where}: every [[tasks]] entry needs a family (see ttc-bench tasks)")
    family = str(table["family"])
    options = {k: v for k, v in table.items() if k not in TASK_KEYS}
    for key in options:  # a near miss of a task key is a typo, not a family option
        close = difflib.get_close_matches(key, sorted(TASK_KEYS), n=1, cutoff=0.75)
        if close:
            raise UserError(f"{where}: unknown key {key!r} (did you mean {close[0]!r}?)")
    # A data file named in a suite file is found next to the suite, wherever the run starts.
    if folder is not None and isinstance(options.get("path"), str) and not Path(options["path"]).is_absolute():
        options["path"] = str(folder / options["path"])
    levels = table.get("levels")
    if levels is not None and (not isinstance(levels, list) or not all(isinstance(v, str) for v in levels)):
        raise UserError(f"{where}: levels must be a list of level names")
    return TaskSpec(
        name=str(table.get("name") or family),
        family=family,
        levels=list(levels or []),
        items=_positive_int(table.get("items", DEFAULT_ITEMS), f"{where}: items", MAX_ITEMS),
        options=options,
    )


def suite_tasks(suite: str) -> tuple[list[TaskSpec], int]:
    """The tasks of a suite, validated, and its seed (``ttc-bench show --suite``)."""
    name, data, folder = read_suite(suite)
    seed = _whole(data.get("seed", 0), "seed")
    tasks = data.get("tasks", [])
    if not isinstance(tasks, list):
        raise UserError(f"suite {name}: tasks must be an array of tables ([[tasks]])")
    found = [_task_from_table(t, f"suite {name} task {i + 1}", folder) for i, t in enumerate(tasks)]
    for task in found:
        for level in task.levels:
            task.adapter.check_level(level)
    return found, seed


def parse_task_arg(text: str) -> TaskSpec:
    """``family`` or ``family:level1,level2`` from --tasks."""
    family, colon, levels = text.partition(":")
    if not family or (colon and not levels.strip(",")):
        raise UserError(f"bad --tasks entry {text!r}: expected FAMILY or FAMILY:LEVEL[,LEVEL]")
    return TaskSpec(name=family, family=family, levels=[v for v in levels.split(",") if v], items=DEFAULT_ITEMS)


def build_spec(suite: str | None = None, **flags: Any) -> RunSpec:
    """The validated spec: the suite's values, then every flag that is not None."""
    suite_name, data, folder = read_suite(suite or DEFAULT_SUITE)
    where = f"suite {suite_name}"
    tasks_data = data.get("tasks", [])
    if not isinstance(tasks_data, list):
        raise UserError(f"{where}: tasks must be an array of tables ([[tasks]])")
    tasks = [_task_from_table(t, f"{where} task {i + 1}", folder) for i, t in enumerate(tasks_data)]
    if flags.get("tasks"):
        tasks = [parse_task_arg(t) for t in flags["tasks"]]
    budget_texts = flags.get("budgets") or data.get("budgets", [])
    if not isinstance(budget_texts, list) or not all(isinstance(b, str) for b in budget_texts):
        raise UserError(f'{where}: budgets must be a list of strings such as ["tokens:512", "forced:1024"], got {budget_texts!r}')
    budgets = parse_budgets(list(budget_texts))
    spec = RunSpec(
        suite=suite_name,
        tasks=tasks,
        budgets=budgets,
        samples=_positive_int(flags["samples"] if flags.get("samples") is not None else data.get("samples", 1), "--samples", MAX_SAMPLES),
        seed=_whole(flags["seed"] if flags.get("seed") is not None else data.get("seed", 0), "seed"),
        temperature=_optional_number(flags["temperature"] if flags.get("temperature") is not None else data.get("temperature"), "temperature"),
        top_p=_optional_number(flags["top_p"] if flags.get("top_p") is not None else data.get("top_p"), "top_p"),
    )
    for key in ("model", "base_urls", "api_key_env", "run_id", "gguf", "params"):
        if flags.get(key) is not None:
            setattr(spec, key, flags[key])
    if flags.get("strategies") is not None or data.get("strategies") is not None:
        spec.strategies = parse_strategies(flags["strategies"] if flags.get("strategies") is not None else data["strategies"])
    spec.n_parameter = bool(flags.get("n_parameter")) or _flag(data.get("n_parameter", False), f"{where}: n_parameter")
    spec.prices = _prices(data.get("prices"), flags.get("price_input"), flags.get("price_output"), where)
    if flags.get("api") is not None:
        spec.api = flags["api"]
    if flags.get("out") is not None:
        spec.out = Path(flags["out"])
    if flags.get("concurrency") is not None:
        spec.concurrency = _positive_int(flags["concurrency"], "--concurrency")
    if flags.get("retry_window") is not None:
        spec.retry_window_s = _number(flags["retry_window"], "--retry-window")
        if spec.retry_window_s < 0:
            raise UserError(f"--retry-window must be 0 or more seconds, got {flags['retry_window']!r}")
    if flags.get("timeout") is not None:
        spec.timeout_s = _number(flags["timeout"], "--timeout")
        if not spec.timeout_s > 0:
            raise UserError(f"--timeout must be a number of seconds above 0, got {flags['timeout']!r}")
    spec.fresh = bool(flags.get("fresh"))
    spec.batch = bool(flags.get("batch"))
    if flags.get("shard") is not None:
        index, count = parse_shard(flags["shard"])
        spec.shard = f"{index}/{count}"
    limit = flags.get("limit")
    if limit is not None:
        _positive_int(limit, "--limit", MAX_ITEMS)
        for task in spec.tasks:
            # Tasks named on the command line have no count of their own: --limit is it.
            task.items = limit if flags.get("tasks") else min(task.items, limit)
    _validate(spec)
    return spec


def _validate(spec: RunSpec) -> None:
    if not spec.tasks:
        raise UserError("no tasks to run; pass --tasks FAMILY[:LEVELS] or a suite with [[tasks]]")
    if spec.temperature is not None and not 0.0 <= spec.temperature <= 2.0:
        raise UserError(f"temperature must be between 0 and 2, got {spec.temperature}")
    if spec.top_p is not None and not 0.0 < spec.top_p <= 1.0:
        raise UserError(f"top_p must be in (0, 1], got {spec.top_p}")
    if spec.api not in PROFILE_CHOICES:
        raise UserError(f"unknown --api {spec.api!r}; choose one of {', '.join(PROFILE_CHOICES)}")
    if spec.base_urls is not None and not spec.model:
        raise UserError("--base-url needs --model (the model name the endpoint serves)")
    for url in spec.base_urls or []:
        if not re.match(r"https?://", url):
            raise UserError(f"--base-url must start with http:// or https://, got {redact_url(url)!r}")
    if spec.model and spec.base_urls is None:
        # --model alone: the named hosted API's own address, else OpenAI's.
        hosted = BY_NAME.get(spec.api)
        spec.base_urls = [hosted.default_base_url if hosted and hosted.default_base_url else "https://api.openai.com/v1"]
    if spec.n_parameter and any(b.kind == "forced" for b in spec.budgets):
        raise UserError("the n parameter cannot serve forced:N budgets (each sample needs its own follow-up turn); drop --n-param or the forced budgets")
    if spec.batch:
        if spec.embedded:
            raise UserError("--batch needs --model (and --base-url for a non-OpenAI API): the embedded model has no Batch API")
        if spec.n_parameter:
            raise UserError("--batch sends one request per sample (its custom_id is the sample key); drop --n-param")
        if spec.fresh:
            raise UserError("--batch cannot be --fresh (a submitted batch is never thrown away); give another --run-id instead")
    if spec.run_id is not None and (not re.fullmatch(r"[A-Za-z0-9._-]+", spec.run_id) or spec.run_id in (".", "..")):
        raise UserError(f"--run-id must be one folder name (letters, digits, . _ -), got {spec.run_id!r}")
    names = [t.name for t in spec.tasks]
    for task in spec.tasks:
        if names.count(task.name) > 1:
            raise UserError(f"task name {task.name!r} appears twice; give each [[tasks]] entry a distinct name")
        adapter = task.adapter  # unknown family or option -> UserError
        if not task.levels:
            task.levels = list(adapter.default_levels or adapter.level_ids()[:1])
        for level in task.levels:
            adapter.check_level(level)
    without_checker(spec.strategies, [(t.name, t.adapter) for t in spec.tasks])  # refuses when no task has one
    asks_again = [n for n in spec.strategies if n == "selfverify" or n.startswith("revise:")]
    if asks_again and spec.batch:
        raise UserError(f"the {asks_again[0]} strategy asks the model again once the answers are in, live; drop --batch or {asks_again[0]}")
    if "adaptive" in spec.strategies:
        # Adaptive sampling decides before each sample from the answers so far: it needs
        # the live runner, one sample per request.
        if spec.n_parameter:
            raise UserError("the adaptive strategy draws one sample at a time and stops when the answer is settled; drop --n-param")
        if spec.batch:
            raise UserError("the adaptive strategy decides each sample from the answers so far, which a Batch API cannot; drop --batch or adaptive")
