"""How the command line ends: its exit codes, and SIGTERM handled like Ctrl-C."""

EXIT_USAGE = 2  # bad input, or an endpoint that cannot serve the run: one line
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM, as shells report a process stopped by it


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, `kill`): handled like Ctrl-C, with its own exit code."""


def on_sigterm(signum, frame):
    raise Terminated()
