"""Command line: argument parsing and error reporting only; the work lives in the modules.

Heavy libraries (openai, numpy, rich, datasets, matplotlib) are imported inside the
commands so that ``ttc-bench --help`` starts instantly.
"""

from __future__ import annotations

import argparse
import sys

from pathlib import Path

from .version import __version__
from .gate.options import add_arguments as add_compare_arguments
from .errors import UserError
from .models.profiles import PROFILE_CHOICES

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as shells report a process stopped by it


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, `kill`): handled like Ctrl-C, with its own exit code."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number from 1 to 65535, got {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be a number from 1 to 65535, got {port}")
    return port


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other bad input
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


def _add_cost_flags(p) -> None:
    p.add_argument("--price-input", type=float, metavar="USD", help="price per million input (prompt) tokens, for cost figures")
    p.add_argument("--price-output", type=float, metavar="USD", help="price per million output (completion) tokens, for cost figures")
    p.add_argument("--params", metavar="COUNT", help="model parameter count (e.g. 135M, 8B) for a FLOPs axis (2 x params x tokens)")


def _add_plan_flags(p) -> None:
    """The flags that decide what a run asks for (run and export-requests)."""
    p.add_argument("--suite", help="suite name (quick, standard, ci-smoke) or path to a .toml suite (default: quick)")
    p.add_argument("--model", help="model name at the endpoint (omit both --model and --base-url for the embedded model)")
    p.add_argument("--base-url", nargs="+", metavar="URL", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (default with --model: OpenAI); several URLs = replicas of one model, shared by load")
    p.add_argument("--api-key-env", help="environment variable holding the API key (default: OPENAI_API_KEY); the key is never stored")
    p.add_argument("--api", choices=PROFILE_CHOICES, metavar="PROFILE", help="provider profile: " + ", ".join(PROFILE_CHOICES) + " (default: auto, from the base URL's host or the server's /models answer; see docs/providers.md)")
    p.add_argument("--tasks", nargs="+", metavar="FAMILY[:LEVEL,...]", help="tasks to run instead of the suite's, e.g. arithmetic:add-1d,mul-2x2 sudoku")
    p.add_argument("--budgets", nargs="+", metavar="BUDGET", help="reasoning budgets: tokens:N, forced:N[:min=M], effort:LEVEL, thinking:N")
    p.add_argument("--samples", type=int, help="samples per (item, budget) (default: the suite's)")
    p.add_argument("--limit", type=int, help="at most this many items per task level (with --tasks: this many; default 10)")
    p.add_argument("--seed", type=int, help="suite seed: decides the items and each sample's seed")
    p.add_argument("--temperature", type=float, help="sampling temperature, sent only when set here or in the suite (default: the provider's own; OpenAI reasoning models and Claude with thinking refuse other values)")
    p.add_argument("--top-p", type=float, help="nucleus sampling top_p, sent only when set (default: the provider's own)")
    p.add_argument("--out", help="folder for run folders (default: results)")
    p.add_argument("--run-id", help="name of the run folder (default: suite-model-hash of the settings, so re-runs resume)")
    p.add_argument("--gguf", help="serve this GGUF file instead of the bundled SmolLM2 (with --base-url: the GGUF a llama-cpp-python server serves, for its chat template)")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (from 1): a fixed 1/N of the items, by a hash of the item id; merge the shard folders with ttc-bench merge")


def _add_run(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run a sweep (items x budgets x samples) and print accuracy vs compute",
        description=(
            "Run a sweep of items x reasoning budgets x samples and score it. With no model "
            "flags it serves the embedded SmolLM2-135M-Instruct through llama.cpp on 127.0.0.1; "
            "with --model/--base-url it uses any OpenAI-compatible endpoint. Re-running the same "
            "command resumes: only missing samples are requested."
        ),
    )
    _add_plan_flags(p)
    p.add_argument("--concurrency", type=int, help="requests in flight (default: 8 remote, 1 for the embedded model)")
    p.add_argument("--timeout", type=float, help="seconds per request before it is retried (default: 600)")
    p.add_argument("--retry-window", type=float, metavar="S", help="how long a request's transient failures (429, 5xx, timeouts) are retried before the sample is stored as an error (default: 300)")
    p.add_argument("--fresh", action="store_true", help="ignore samples already stored and request everything again")
    p.add_argument("--n-param", action="store_true", help="request all samples of an (item, budget) at once with the n parameter (vLLM, OpenAI) instead of parallel requests")
    p.add_argument("--batch", action="store_true", help="send the requests through the provider's Batch API (OpenAI: half the price, results within 24 h): upload, poll, import; re-running the same command resumes the same batches (docs/scale.md)")
    _add_cost_flags(p)
    p.add_argument("--progress", choices=("auto", "bar", "lines", "off"), default="auto",
                   help="progress on stderr: a live bar (terminals), a plain line every few seconds (logs, CI), or off (default: auto)")
    p.add_argument("--no-progress", action="store_true", help="same as --progress off")
    p.add_argument("--baseline", metavar="RUN_DIR", help="after the run, compare it with this baseline run folder (the CI gate; see ttc-bench compare)")
    add_compare_arguments(p, positionals=False)


def _add_tasks(sub) -> None:
    sub.add_parser("tasks", help="list task families, their levels and what each level means")
    p = sub.add_parser("show", help="print items exactly as the model sees them, with the gold answer")
    p.add_argument("task", help="task family, e.g. arithmetic")
    p.add_argument("--level", help="level id (see ttc-bench tasks; default: the family's first default level)")
    p.add_argument("-n", type=int, default=2, help="how many items (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="suite seed (default: 0)")


def _add_compare(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="paired comparison of two runs: the CI regression gate (exit 1 on a real drop)",
        description=(
            "Pair two runs on (task, item, budget, sample) and test every task x budget x metric "
            "(pass@1, maj@k at the largest k, tokens per item) for a statistically significant change. "
            "Exit 1 when a gated metric regresses beyond the tolerance, 0 otherwise, 2 for unusable input."
        ),
    )
    add_compare_arguments(p)


def _add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="rebuild summary, report.md/.html and plots from samples.jsonl (several runs: an overlay)",
        description=(
            "Regenerate every output of a run from its samples.jsonl alone (no model calls). "
            "With several run folders, write an overlay report that puts them on the same axes."
        ),
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folder(s)")
    p.add_argument("--out", metavar="DIR", help="where to write (default: the run folder; for several runs, an overlay-<hash> folder beside the first)")
    _add_cost_flags(p)


def _add_probe(sub) -> None:
    p = sub.add_parser(
        "probe",
        help="what an endpoint really does: parameters accepted, reasoning visible, n, seed, budgets honoured",
        description=(
            "Send a handful of small requests and report the provider profile, which sampling parameters the "
            "endpoint accepts, whether reasoning text and reasoning-token counts come back, whether n and seed "
            "work, and for each budget whether it really changes how long the model reasons (flagging budgets "
            "the endpoint silently ignores). With no --base-url it probes the embedded model."
        ),
    )
    p.add_argument("--model", help="model name at the endpoint")
    p.add_argument("--base-url", nargs="+", metavar="URL", help="OpenAI-compatible base URL (default with --model: OpenAI)")
    p.add_argument("--api", choices=PROFILE_CHOICES, metavar="PROFILE", help="provider profile (default: auto)")
    p.add_argument("--api-key-env", help="environment variable holding the API key (default: OPENAI_API_KEY)")
    p.add_argument("--budgets", nargs="+", metavar="BUDGET", help="budgets to check (default: two of every kind the profile supports)")
    p.add_argument("--gguf", help="GGUF file to serve (embedded) or whose chat template a llama-cpp-python server uses")
    p.add_argument("--timeout", type=float, help="seconds per request (default: 600)")
    p.add_argument("--json", metavar="PATH", help="also write the findings as JSON")


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="serve the embedded model on 127.0.0.1 until Ctrl-C (for use with --base-url)")
    p.add_argument("--gguf", help="serve this GGUF file instead of the bundled SmolLM2")
    p.add_argument("--port", type=_port, help="port (default: a free one)")


def _add_view(sub) -> None:
    p = sub.add_parser(
        "view",
        help="serve run reports on 127.0.0.1 and open them in a browser: the sample browser with every sample",
        description=(
            "Serve the report of each run folder (or an overlay folder written by ttc-bench report) on "
            "127.0.0.1 and open it in a browser when one is available. report.html embeds up to 5,000 "
            "samples; served this way, the sample browser loads the rest from samples.jsonl item by item. "
            "A run whose report.html has no sample browser gets its report rebuilt first."
        ),
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folder(s)")
    p.add_argument("--port", type=_port, help="port (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="only print the address; do not open a browser")


def _add_offline(sub) -> None:
    p = sub.add_parser(
        "export-requests",
        help="write a run's pending requests as OpenAI Batch JSONL (for vllm run-batch, Ray Data, a Batch API)",
        description=(
            "Write every pending request of a run (the same flags as run) as OpenAI Batch API input lines: "
            "custom_id = the sample key, body = exactly what the live endpoint would be sent. Nothing is sent. "
            "Run the file with any engine that writes OpenAI Batch output lines, then ttc-bench import-results. "
            "Budgets that need several turns (forced:N) come back for another round: export again after importing."
        ),
    )
    _add_plan_flags(p)
    _add_cost_flags(p)
    p.add_argument("--to", required=True, metavar="FILE", help="the requests file to write (JSONL)")
    p = sub.add_parser(
        "import-results",
        help="score batch results (OpenAI Batch or vllm run-batch output JSONL) into a run folder",
        description=(
            "Score result files into the run folder export-requests named, as if the requests had been live. "
            "Importing a file twice changes nothing; results that are not requests of the run are reported (exit 2)."
        ),
    )
    p.add_argument("run", metavar="RUN_DIR", help="the run folder export-requests printed")
    p.add_argument("results", nargs="+", metavar="RESULTS", help="results JSONL file(s): output and error files alike")
    p = sub.add_parser(
        "merge",
        help="combine the shard folders of one run (run --shard I/N) into one run folder",
        description=(
            "Combine run folders of the same settings (the shards of one run) into OUT, each sample once, "
            "and score it: the summary equals that of the run done in one piece. Runs of different settings "
            "are refused."
        ),
    )
    p.add_argument("out", metavar="OUT", help="the merged run folder to write (e.g. results/<run-id>)")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="the shard folders")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ttc-bench",
        description="Measure how an LLM's reasoning accuracy scales with test-time compute: "
        "reasoning budgets x samples, scored as pass@1, pass@k and majority vote against tokens spent.",
    )
    parser.add_argument("--version", action="version", version=f"ttc-bench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_run(sub)
    _add_tasks(sub)
    _add_compare(sub)
    _add_report(sub)
    _add_probe(sub)
    _add_serve(sub)
    _add_view(sub)
    _add_offline(sub)
    return parser


def _spec(args):
    """The RunSpec of run or export-requests flags (the flags export-requests lacks are unset)."""
    from .spec import build_spec, parse_count

    flag = lambda name: getattr(args, name, None)  # noqa: E731
    return build_spec(
        args.suite, model=args.model, base_urls=args.base_url, n_parameter=flag("n_param"),
        price_input=args.price_input, price_output=args.price_output,
        params=parse_count(args.params) if args.params else None, api_key_env=args.api_key_env, api=args.api,
        tasks=args.tasks, budgets=args.budgets, samples=args.samples, limit=args.limit, seed=args.seed,
        temperature=args.temperature, top_p=args.top_p, out=args.out, run_id=args.run_id,
        concurrency=flag("concurrency"), timeout=flag("timeout"), retry_window=flag("retry_window"), gguf=args.gguf,
        fresh=flag("fresh"), batch=flag("batch"), shard=args.shard,
    )


def cmd_run(args, argv: list[str]) -> int:
    from rich.console import Console

    from .reporting import print_summary
    from .sweep import run_sweep

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
        from .gate import run_compare
        from .gate.options import outputs_from, settings_from

        return run_compare(Path(args.baseline), result.run_dir, settings_from(args), outputs_from(args))
    return 0


def cmd_export_requests(args, argv: list[str]) -> int:
    from .offline import export_requests

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

    from .offline import import_results
    from .reporting import print_summary

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

    from .merge import merge
    from .reporting import print_summary

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
    from .adapters import families

    for name, cls in sorted(families().items()):
        print(f"{name}: {cls.summary}")
        for level, text in cls.levels.items():
            marker = "*" if level in cls.default_levels else " "
            print(f"  {marker} {level:<14} {text}")
    print("(* = default levels)")
    return 0


def cmd_show(args) -> int:
    from .adapters import get_family

    adapter = get_family(args.task)()
    level = args.level or (adapter.default_levels or tuple(adapter.level_ids()))[0]
    if args.n <= 0:
        raise UserError("-n must be positive")
    for item in adapter.items(args.seed, level, args.n):
        print(f"=== {item.id}")
        for message in adapter.prompt(item, 0).messages:
            print(f"[{message['role']}]\n{message['content']}")
        print(f"[gold] {item.gold}\n")
    return 0


def cmd_report(args) -> int:
    from rich.console import Console

    from .reporting import failures, print_overlay, print_summary, regenerate
    from .spec import parse_count

    if (args.price_input is None) != (args.price_output is None):
        raise UserError("give both prices: --price-input and --price-output (USD per million tokens)")
    prices = None if args.price_input is None else {"input_per_million": args.price_input, "output_per_million": args.price_output}
    params = parse_count(args.params) if args.params else None
    result = regenerate([Path(r) for r in args.runs], Path(args.out) if args.out else None, prices=prices, params=params)
    summary = result["summary"]
    console = Console()
    if summary.get("kind") == "overlay":
        print_overlay(summary, console, result["outputs"])
    else:
        title = f"{summary.get('suite')} on {summary.get('model')}: accuracy %, maj@k = majority vote of k samples"
        print_summary(summary, console, title, result["outputs"])
    return EXIT_USAGE if failures(result["outputs"]) else 0


def cmd_view(args) -> int:
    from .reporting.view import open_browser, open_view

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
    from .gate import run_compare
    from .gate.options import outputs_from, settings_from

    return run_compare(Path(args.baseline), Path(args.current), settings_from(args), outputs_from(args))


def cmd_probe(args) -> int:
    from rich.console import Console

    from .probe import print_probe, probe
    from .spec import build_spec

    spec = build_spec(None, model=args.model, base_urls=args.base_url, api=args.api, api_key_env=args.api_key_env,
                      budgets=args.budgets or ["tokens:64"], gguf=args.gguf, timeout=args.timeout,
                      tasks=["arithmetic:add-2d"], limit=1, samples=1)
    console = Console()
    report = probe(spec, lambda m: console.print(m, style="dim", soft_wrap=True), budgets_given=bool(args.budgets))
    print_probe(report, console)
    if args.json:
        from .store import write_json_atomic

        write_json_atomic(Path(args.json), report.to_dict())
    return 0


def cmd_serve(args) -> int:
    import time

    from .models.local import embedded_server

    with embedded_server(args.gguf, port=args.port) as (base_url, gguf):
        model = "smollm2-135m-instruct" if args.gguf is None else gguf.stem
        print(f"serving {gguf.name} at {base_url} as model {model!r}; Ctrl-C stops it", flush=True)
        print(f"  ttc-bench run --base-url {base_url} --model {model}", flush=True)
        while True:
            time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    import signal

    if threading_is_main():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.command == "run":
            return cmd_run(args, ["ttc-bench", *argv])
        if args.command == "export-requests":
            return cmd_export_requests(args, ["ttc-bench", *argv])
        commands = {"tasks": cmd_tasks, "show": cmd_show, "serve": cmd_serve, "compare": cmd_compare,
                    "report": cmd_report, "probe": cmd_probe, "view": cmd_view,
                    "import-results": cmd_import_results, "merge": cmd_merge}
        return commands[args.command](args)
    except UserError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        hint = " finished samples are saved; re-run the same command to resume." if args.command == "run" else ""
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"\n{what}.{hint}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
