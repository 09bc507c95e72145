import os
import sys
from pathlib import Path

import pytest

# Tests never reach the network: Hugging Face loaders stay offline.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def run_cli(capsys):
    """Run ttc-bench in-process: returns (exit code, stdout, stderr)."""
    from ttc_bench.cli import main

    def run(*argv: str):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run
