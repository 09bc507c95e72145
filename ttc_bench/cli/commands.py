"""The commands: each ``cmd_<name>(args)`` turns parsed arguments into calls of the
modules that do the work, and prints the result. Heavy libraries (numpy, rich, httpx,
matplotlib, datasets) load inside the commands, so ``ttc-bench --help`` starts instantly."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UserError
from .exits import EXIT_USAGE, Terminated


def _spec(args):
    """The RunSpec of run or export-requests flags (the flags export-requests lacks are unset)."""
    from ..spec import build_spec, parse_count

    flag = lambda name: getattr(args, name, None)  # noqa: E731
    return build_spec(
        args.suite, model=args.model, base_urls=args.base_url, n_parameter=flag("n_param"),
        price_input=args.price_input, price_output=args.price_output,
        params=parse_count(args.params) if args.params else None, api_key_env=args.api_key_env, api=args.api,
        tasks=args.tasks, budgets=args.budgets, samples=args.samples, limit=args.limit, seed=args.seed,
        temperature=args.temperature, top_p=args.top_p, out=args.out, run_id=args.run_id,
        concurrency=flag("concurrency"), timeout=flag("timeout"), retry_window=flag("retry_window"), gguf=args.gguf,
        fresh=flag("fresh"), batch=flag("batch"), shard=args.shard, strategies=args.strategies,
    )


def cmd_run(args, argv: list[str]) -> int:
    from rich.console import Console

    from ..gate.options import check_before_run
    from ..reporting import print_summary
    from ..sweep import run_sweep

    check_before_run(args)
    spec = _spec(args)
    console = Console()
    progress = "off" if args.no_progress else args.progress
    result = run_sweep(spec, argv, progress=progress, log=lambda m: console.print(m, style="dim", soft_wrap=True))
    s = result.summary
    title = f"{s['suite']} on {s['model']}: accuracy %, maj@k = majority vote of k samples"
    print_summary(s, console, title, result.outputs)
    console.print(
        f"{result.stats.done} samples requested, {result.stats.skipped} reused, {s['errors']} errors, "
        f"{s['retries']} retries."
    )
    console.print(f"results: {result.run_dir}", soft_wrap=True)
    if result.stats.done and result.stats.errors == result.stats.done and not result.stats.skipped:
        raise UserError(
            f"every one of the {result.stats.done} samples failed (see the error column of {result.run_dir}/samples.jsonl); "
            "fix the endpoint and re-run the same command to retry them"
        )
    if args.baseline:
        from ..gate import run_compare
        from ..gate.options import outputs_from, settings_from

        return run_compare(Path(args.baseline), result.run_dir, settings_from(args), outputs_from(args))
    return 0


def cmd_export_requests(args, argv: list[str]) -> int:
    from ..offline import export_requests

    spec = _spec(args)
    result = export_requests(spec, argv, Path(args.to), log=lambda m: print(m, file=sys.stderr))
    if not result.requests:
        print(f"nothing to export: every one of the {result.planned} samples of {result.run_dir} is finished")
        return 0
    later = f" ({result.continuations} of them later turns of forced budgets)" if result.continuations else ""
    print(f"{result.requests} requests{later} written to {args.to} for run {result.run_dir}")
    print(f"when the results are back: ttc-bench import-results {result.run_dir} RESULTS.jsonl")
    return 0


def cmd_import_results(args) -> int:
    from rich.console import Console

    from ..offline import import_results
    from ..reporting import print_summary

    result = import_results(Path(args.run), [Path(r) for r in args.results])
    report, console = result.report, Console()
    if result.summary is not None:
        s = result.summary
        print_summary(s, console, f"{s['suite']} on {s['model']}: accuracy %, maj@k = majority vote of k samples", result.outputs)
    console.print(f"{report.describe()}.", soft_wrap=True)
    if report.pending:
        console.print(f"{report.pending} samples still need a request: run the same export-requests command again.", soft_wrap=True)
    console.print(f"results: {result.run_dir}", soft_wrap=True)
    problems = report.problems()
    if problems:
        raise UserError(f"{problems}; nothing else was skipped")
    return 0


def cmd_merge(args) -> int:
    from rich.console import Console

    from ..merge import merge
    from ..reporting import print_summary

    result = merge(Path(args.out), [Path(r) for r in args.runs])
    s, console = result.summary, Console()
    print_summary(s, console, f"{s['suite']} on {s['model']}: accuracy %, maj@k = majority vote of k samples", result.outputs)
    dropped = f" ({result.duplicates} repeated rows of a sample left out)" if result.duplicates else ""
    console.print(f"merged {len(args.runs)} runs: {result.samples} samples{dropped}.", soft_wrap=True)
    if result.missing_shards:
        console.print(f"warning: shards {', '.join(map(str, result.missing_shards))} are missing: the summary "
                      "covers only the items of the shards given", soft_wrap=True)
    console.print(f"results: {result.run_dir}", soft_wrap=True)
    return 0


def cmd_tasks(args) -> int:
    from ..adapters import families

    for name, cls in sorted(families().items()):
        print(f"{name}: {cls.summary}")
        for level, text in cls.levels.items():
            marker = "*" if level in cls.default_levels else " "
            print(f"  {marker} {level:<14} {text}")
    print("(* = default levels)")
    return 0


def cmd_show(args) -> int:
    from ..adapters import get_family, task_items
    from ..adapters.mcq import source_label

    if args.n <= 0:
        raise UserError("-n must be positive")
    if args.suite:
        from ..spec import suite_tasks

        tasks, suite_seed = suite_tasks(args.suite)
        seed = suite_seed if args.seed is None else args.seed  # the items a run of the suite asks
        if args.task:
            names = [t.name for t in tasks]
            tasks = [t for t in tasks if t.name == args.task]
            if not tasks:
                raise UserError(f"the suite has no task {args.task!r}; its tasks: {', '.join(names)}")
        shown = [(task.adapter, item) for task in tasks
                 for item in task_items(task, seed=seed, count=args.n, levels=[args.level] if args.level else None)]
    else:
        if not args.task:
            raise UserError("name a task family (see ttc-bench tasks), or give --suite")
        adapter = get_family(args.task)()
        level = args.level or (adapter.default_levels or tuple(adapter.level_ids()))[0]
        shown = [(adapter, item) for item in adapter.items(args.seed or 0, level, args.n)]
    for adapter, item in shown:
        print(f"=== {item.id}")
        for message in adapter.prompt(item, 0).messages:
            print(f"[{message['role']}]\n{message['content']}")
        print(f"[gold] {item.gold}")
        source = source_label(item)
        print(f"[source] {source}\n" if source else "")
    return 0


def cmd_report(args) -> int:
    from rich.console import Console

    from ..reporting import failures, print_overlay, print_summary, regenerate
    from ..spec import parse_count

    if (args.price_input is None) != (args.price_output is None):
        raise UserError("give both prices: --price-input and --price-output (USD per million tokens)")
    prices = None if args.price_input is None else {"input_per_million": args.price_input, "output_per_million": args.price_output}
    params = parse_count(args.params) if args.params else None
    if args.strategies is not None:  # refused before a rescore rewrites anything
        from ..store import RunFolder
        from ..summarize import run_strategies

        for run in args.runs:
            run_strategies(RunFolder.resolve(Path(run)).manifest(), args.strategies)
    if args.rescore:
        from ..rescore import rescore

        for run in args.runs:
            print(f"{run}: {rescore(Path(run)).describe()}")
    result = regenerate([Path(r) for r in args.runs], Path(args.out) if args.out else None, prices=prices, params=params,
                        strategies=args.strategies)
    summary = result["summary"]
    console = Console()
    if summary.get("kind") == "overlay":
        print_overlay(summary, console, result["outputs"])
    else:
        title = f"{summary.get('suite')} on {summary.get('model')}: accuracy %, maj@k = majority vote of k samples"
        print_summary(summary, console, title, result["outputs"])
    return EXIT_USAGE if failures(result["outputs"]) else 0


def cmd_view(args) -> int:
    from ..reporting.view import open_browser, open_view

    server = open_view([Path(r) for r in args.runs], port=args.port or 0, log=lambda m: print(m, flush=True))
    try:
        print(f"serving {len(server.served)} report{'s' if len(server.served) > 1 else ''} at {server.url}; Ctrl-C stops it", flush=True)
        if not args.no_browser:
            open_browser(server.url)
        server.serve_forever()
    except Terminated:
        raise
    except KeyboardInterrupt:
        print("\nstopped.", flush=True)
        return 0
    finally:
        server.server_close()
    return 0


def cmd_compare(args) -> int:
    from ..gate import run_compare
    from ..gate.options import outputs_from, settings_from

    return run_compare(Path(args.baseline), Path(args.current), settings_from(args), outputs_from(args))


def cmd_probe(args) -> int:
    from rich.console import Console

    from ..probe import print_probe, probe
    from ..spec import build_spec

    spec = build_spec(None, model=args.model, base_urls=args.base_url, api=args.api, api_key_env=args.api_key_env,
                      budgets=args.budgets or ["tokens:64"], gguf=args.gguf, timeout=args.timeout,
                      tasks=["arithmetic:add-2d"], limit=1, samples=1)
    console = Console()
    report = probe(spec, lambda m: console.print(m, style="dim", soft_wrap=True), budgets_given=bool(args.budgets))
    print_probe(report, console)
    if args.json:
        from ..store import write_json_atomic

        write_json_atomic(Path(args.json), report.to_dict())
    return 0


def cmd_serve(args) -> int:
    import time

    from ..models.local import embedded_server

    with embedded_server(args.gguf, port=args.port) as (base_url, gguf):
        model = "smollm2-135m-instruct" if args.gguf is None else gguf.stem
        print(f"serving {gguf.name} at {base_url} as model {model!r}; Ctrl-C stops it", flush=True)
        print(f"  ttc-bench run --base-url {base_url} --model {model}", flush=True)
        while True:
            time.sleep(3600)
