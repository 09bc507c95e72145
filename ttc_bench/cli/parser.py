"""The command line's parser: every command and flag (``ttc-bench COMMAND --help``)."""

from __future__ import annotations

import argparse

from ..gate.options import add_arguments as add_compare_arguments
from ..models.profiles import PROFILE_CHOICES
from ..version import __version__
from .exits import EXIT_USAGE


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
        if "required: baseline" in message:
            # `compare --metrics pass@1 A B`: --metrics takes every word after it.
            message += "; put BASELINE CURRENT before flags that take several values (--metrics)"
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


def _add_cost_flags(p) -> None:
    p.add_argument("--price-input", type=float, metavar="USD", help="price per million input (prompt) tokens, for cost figures")
    p.add_argument("--price-output", type=float, metavar="USD", help="price per million output (completion) tokens, for cost figures")
    p.add_argument("--params", metavar="COUNT", help="model parameter count (e.g. 135M, 8B) for a FLOPs axis (2 x params x tokens)")


def _add_endpoint_flags(p) -> None:
    """Which endpoint and model (run, export-requests, probe)."""
    p.add_argument("--model", help="model name at the endpoint (omit both --model and --base-url for the embedded model)")
    p.add_argument("--base-url", nargs="+", metavar="URL", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (default with --model: OpenAI); several URLs = replicas of one model, shared by load")
    p.add_argument("--api-key-env", help="environment variable holding the API key (default: OPENAI_API_KEY); the key is never stored")
    p.add_argument("--api", choices=PROFILE_CHOICES, metavar="PROFILE", help="provider profile: " + ", ".join(PROFILE_CHOICES) + " (default: auto, from the base URL's host or the server's /models answer; see docs/providers.md)")
    p.add_argument("--gguf", help="serve this GGUF file instead of the bundled SmolLM2 (with --base-url: the GGUF a llama-cpp-python server serves, for its chat template)")


def _add_plan_flags(p) -> None:
    """The flags that decide what a run asks for (run and export-requests)."""
    p.add_argument("--suite", help="suite name (quick, standard, ci-smoke) or path to a .toml suite (default: quick)")
    _add_endpoint_flags(p)
    p.add_argument("--tasks", nargs="+", metavar="FAMILY[:LEVEL,...]", help="tasks to run instead of the suite's, e.g. arithmetic:add-1d,mul-2x2 sudoku")
    p.add_argument("--budgets", nargs="+", metavar="BUDGET", help="reasoning budgets: tokens:N, forced:N[:min=M], effort:LEVEL, thinking:N")
    p.add_argument("--samples", type=int, help="samples per (item, budget) (default: the suite's)")
    p.add_argument("--limit", type=int, help="at most this many items per task level (with --tasks: this many; default 10)")
    p.add_argument("--seed", type=int, help="suite seed: decides the items and each sample's seed")
    p.add_argument("--temperature", type=float, help="sampling temperature, sent only when set here or in the suite (default: the provider's own; OpenAI reasoning models and Claude with thinking refuse other values)")
    p.add_argument("--top-p", type=float, help="nucleus sampling top_p, sent only when set (default: the provider's own)")
    p.add_argument("--out", help="folder for run folders (default: results)")
    p.add_argument("--run-id", help="name of the run folder (default: suite-model-hash of the settings, so re-runs resume)")
    p.add_argument("--strategies", nargs="+", metavar="NAME", help=STRATEGIES_HELP + " (default: the suite's strategies, else maj)")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (from 1): a fixed 1/N of the items, by a hash of the item id; merge the shard folders with ttc-bench merge")


STRATEGIES_HELP = (
    "how samples become one answer (docs/strategies.md): maj (majority vote, the default), "
    "verified-maj (majority among the samples the gold-free checker accepts, else of all), "
    "best-of (the first accepted sample; the checker's strategies need a family with one: "
    "sudoku, crossword), adaptive (live runs: sample each item until its majority answer is "
    "settled, at most --samples), selfverify (the model judges each distinct answer; its tokens count), "
    "revise:R (up to R rounds revising the first sample, told the checker's violations; every round's tokens count). "
    "Each adds its point or curve to the summary, the plot and the frontier"
)


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
    sub.add_parser("tasks", help="list task families, their levels and what each level means",
                   description="List the task families, their levels (* marks the default ones) and what each level "
                   "means. Dataset benchmarks (GPQA, MMLU, MMLU-Pro, ARC) are mcq tasks with a preset in a suite "
                   "(README, Concepts).")
    p = sub.add_parser("show", help="print items exactly as the model sees them, with the gold answer",
                       description="Print items exactly as the model sees them (every message of the prompt), with "
                       "the gold answer and, for dataset items, their source id. With --suite, the suite's own tasks, "
                       "levels, options and seed.")
    p.add_argument("task", nargs="?", help="task family, e.g. arithmetic (with --suite: a task name of the suite; default: all its tasks)")
    p.add_argument("--suite", help="show the tasks of this suite (name or .toml path), datasets included, with each item's source")
    p.add_argument("--level", help="level id (see ttc-bench tasks; default: the family's first default level)")
    p.add_argument("-n", type=int, default=2, help="how many items (default: 2)")
    p.add_argument("--seed", type=int, help="item seed (default: the suite's seed with --suite, else 0)")


def _add_compare(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="paired comparison of two runs: the CI regression gate (exit 1 on a real drop)",
        description=(
            "Pair two runs on (task, item, budget, sample) and test every task x budget x metric for a "
            "statistically significant change: pass@1, pass@1 with errors counted as wrong, maj@k at the largest "
            "k and the error rate are gated; tokens per item are shown, and gated with --max-token-increase. "
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
    p.add_argument("--strategies", nargs="+", metavar="NAME", help=STRATEGIES_HELP + " (default: those the run recorded)")
    p.add_argument("--rescore", action="store_true", help="first parse and verify every stored response again with today's adapters and items (a parser fix, a corrected answer key), without a request; the manifest records what changed")
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
    _add_endpoint_flags(p)
    p.add_argument("--budgets", nargs="+", metavar="BUDGET", help="budgets to check (default: two of every kind the profile supports)")
    p.add_argument("--timeout", type=float, help="seconds per request (default: 600)")
    p.add_argument("--json", metavar="PATH", help="also write the findings as JSON")


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="serve the embedded model on 127.0.0.1 until Ctrl-C (for use with --base-url)",
                       description="Start the embedded model (SmolLM2-135M-Instruct, or --gguf) in llama.cpp's "
                       "OpenAI-compatible server on 127.0.0.1 and keep it up until Ctrl-C, for runs or other tools "
                       "that take a --base-url.")
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
