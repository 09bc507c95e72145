"""Command line: argv is read here and nowhere else; the work lives in the modules.

``parser`` defines every command and flag, ``commands`` runs them; this module reports
errors (one line, exit 2; Ctrl-C 130; SIGTERM 143).
"""

from __future__ import annotations

import sys

from ..errors import UserError
from . import commands
from .exits import EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, Terminated, on_sigterm
from .parser import build_parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command is not None:
        # Name the command's own help, which lists the flags it takes.
        print(f"error: unrecognized arguments: {' '.join(extra)} (see ttc-bench {args.command} --help)", file=sys.stderr)
        return EXIT_USAGE
    if extra:
        parser.parse_args(argv)  # the top-level error, exit 2
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    import signal

    if threading_is_main():
        signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if args.command == "run":
            return commands.cmd_run(args, ["ttc-bench", *argv])
        if args.command == "export-requests":
            return commands.cmd_export_requests(args, ["ttc-bench", *argv])
        return getattr(commands, "cmd_" + args.command.replace("-", "_"))(args)
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
    except BrokenPipeError:
        # The reader went away (`ttc-bench show ... | head`): not an error of ours. Python
        # would flush stdout again at exit and fail there, so point it at /dev/null first.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE


# 128 + SIGPIPE, as a shell reports a command whose reader closed the pipe.
EXIT_PIPE = 141


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()

