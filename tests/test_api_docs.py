"""The notebook-style example of docs/api.md runs as written (on the embedded model)."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.embedded

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_the_api_example_runs(tmp_path, monkeypatch):
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    run = namespace["run"]
    assert run.dir.resolve().parent == (tmp_path / "results").resolve()
    assert len(namespace["frame"]) == 3 * 2 * 2
    assert "report.html" in namespace["outputs"]


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, ttc_bench; print(sorted(m for m in ('numpy', 'httpx', 'openai', 'pandas', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
