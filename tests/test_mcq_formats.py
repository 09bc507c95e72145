"""MCQ datasets in every layout they are published in, their row ids, the errors for bad files
and rows, and the Hub path (a local fake Hub, one that never answers, one that refuses).

Nothing here reaches the network: Hub tests point HF_ENDPOINT at 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from ttc_bench.adapters import task_items
from ttc_bench.adapters.mcq import MultipleChoice, source_label
from ttc_bench.adapters.mcq_datasets import LETTERS
from ttc_bench.adapters.mcq_formats import looks_headerless, parse_list_cell
from ttc_bench.errors import UserError

DATA = Path(__file__).parent / "data" / "mcq"
ROOT = Path(__file__).resolve().parents[1]


def _adapter(**options) -> MultipleChoice:
    return MultipleChoice(options=options)


def _by_row(adapter: MultipleChoice) -> dict[int, object]:
    items = adapter.items(0, "all", adapter.available("all"))
    return {item.meta["row"]: item for item in items}


def _correct_texts(adapter: MultipleChoice) -> list[str]:
    """The correct option's text for each row, in file order."""
    by_row = _by_row(adapter)
    return [by_row[i].meta["options"][LETTERS.index(by_row[i].gold)] for i in sorted(by_row)]


def _one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    return message


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _parquet(path: Path, rows: list[dict], schema=None) -> Path:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def _jsonl_rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


MMLU_PRO_GOLD = ["13", "newton", "Argon", "It is a subset of every set", "None", "nan"]
ARC_GOLD = ["Planetary days will become shorter.", "an iron nail", "liquid", "attracts iron"]
MMLU_GOLD = ["Paris", "4", "Carbon dioxide", "Shakespeare"]


# ---- each preset in each published layout -------------------------------------------------


def test_gpqa_csv_keeps_none_and_numbers_as_text_and_records_the_record_id():
    adapter = _adapter(preset="gpqa-diamond", path=str(DATA / "gpqa_diamond.csv"))
    assert _correct_texts(adapter) == ["Photon", "1e-3", "Mitochondrion", "None"]
    by_row = _by_row(adapter)
    assert [by_row[i].meta["source"]["id"] for i in range(4)] == ["recTestPhoton0001", "recTestPH0000002", "recTestATP000003", "recTestSpin00004"]
    assert by_row[1].meta["options"].count("1e3") == 1  # not the float 1000.0
    assert by_row[3].meta["question"].count("\n") == 3  # a quoted multi-line cell
    assert by_row[3].meta["source"]["line"] == 5 and by_row[0].meta["subject"] == "Physics"


@pytest.mark.parametrize("name", ["mmlu_pro.jsonl", "mmlu_pro_to_csv.csv", "mmlu_pro.parquet"])
def test_mmlu_pro_drops_its_na_padding_and_keeps_none_and_nan(tmp_path, name):
    path = DATA / name if name != "mmlu_pro.parquet" else _parquet(tmp_path / name, _jsonl_rows("mmlu_pro.jsonl"))
    adapter = _adapter(preset="mmlu-pro", path=str(path))
    assert _correct_texts(adapter) == MMLU_PRO_GOLD
    by_row = _by_row(adapter)
    assert [len(by_row[i].meta["options"]) for i in range(6)] == [10, 3, 6, 6, 4, 6]
    assert all("N/A" not in item.meta["options"] for item in by_row.values())
    assert "None" in by_row[4].meta["options"] and "nan" in by_row[5].meta["options"]
    assert [by_row[i].meta["source"]["id"] for i in range(6)] == ["70", "71", "72", "73", "74", "75"]


def test_na_is_an_ordinary_option_outside_mmlu_pro(tmp_path):
    path = tmp_path / "own.jsonl"
    path.write_text(json.dumps({"question": "Which is a valid value?", "choices": ["N/A", "1"], "answer": 0}) + "\n")
    item = _adapter(path=str(path)).item(0, "all", 0)
    assert item.meta["options"] == ["N/A", "1"] and item.gold == "A"


def test_mmlu_pro_answer_and_answer_index_must_agree(tmp_path):
    rows = _jsonl_rows("mmlu_pro.jsonl")
    rows[2]["answer_index"] = 4  # "F" is index 5
    path = tmp_path / "pro.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(UserError) as excinfo:
        _adapter(preset="mmlu-pro", path=str(path)).available("all")
    message = _one_line(excinfo)
    assert "line 3 (id 72)" in message and "disagree" in message and str(path) in message


@pytest.mark.parametrize("name", ["arc_challenge.jsonl", "arc_challenge_to_csv.csv", "arc_challenge.parquet"])
def test_arc_numeric_labels_and_three_to_five_choices(tmp_path, name):
    path = DATA / name if name != "arc_challenge.parquet" else _parquet(tmp_path / name, _jsonl_rows("arc_challenge.jsonl"))
    adapter = _adapter(preset="arc-challenge", path=str(path))
    assert _correct_texts(adapter) == ARC_GOLD
    by_row = _by_row(adapter)
    assert [len(by_row[i].meta["options"]) for i in range(4)] == [4, 4, 3, 5]
    assert by_row[1].gold == "D"  # answerKey "4" among labels "1".."4"
    assert by_row[0].meta["source"]["id"] == "Mercury_7175875"


def test_mmlu_parquet_with_int_answers_and_subject_ids(tmp_path):
    pa = pytest.importorskip("pyarrow")
    schema = pa.schema([("question", pa.string()), ("subject", pa.string()), ("choices", pa.list_(pa.string())), ("answer", pa.int64())])
    rows = _jsonl_rows("mmlu.jsonl") + [{"question": "Capital of Italy?", "subject": "geography", "choices": ["Rome", "Milan"], "answer": 0}]
    adapter = _adapter(preset="mmlu", path=str(_parquet(tmp_path / "test-00000-of-00001.parquet", rows, schema)))
    assert _correct_texts(adapter) == MMLU_GOLD + ["Rome"]
    ids = [item.meta["source"]["id"] for _, item in sorted(_by_row(adapter).items())]
    # subject/k: the k-th question of the subject, as in the original per-subject files
    assert ids == ["geography/0", "elementary_mathematics/0", "biology/0", "literature/0", "geography/1"]


@pytest.mark.parametrize("name", ["mmlu.jsonl", "mmlu_pandas_to_csv.csv"])
def test_mmlu_json_lines_and_a_python_repr_list_column(name):
    assert _correct_texts(_adapter(preset="mmlu", path=str(DATA / name))) == MMLU_GOLD


# ---- the headerless original MMLU release ---------------------------------------------


def test_headerless_mmlu_is_recognised_and_explained():
    path = DATA / "mmlu_original" / "astronomy_test.csv"
    with pytest.raises(UserError) as excinfo:
        _adapter(preset="mmlu", path=str(path)).available("all")
    message = _one_line(excinfo)
    assert "no header line" in message and "header = false" in message and str(path) in message


def test_headerless_mmlu_with_the_preset():
    adapter = _adapter(preset="mmlu", path=str(DATA / "mmlu_original" / "astronomy_test.csv"), header=False)
    assert _correct_texts(adapter) == ["The Sun", "Mercury", "Venus", "Pluto", "8 minutes"]
    by_row = _by_row(adapter)
    assert by_row[0].meta["subject"] == "astronomy" and by_row[3].meta["source"]["id"] == "astronomy/3"
    assert "None" in by_row[3].meta["options"]  # an option reading None stays
    assert "IAU’s" in by_row[3].meta["question"]  # UTF-8 read as such
    assert by_row[4].meta["options"][3] == "8,000 years"


def test_headerless_without_preset_reads_question_options_answer():
    adapter = _adapter(path=str(DATA / "mmlu_original" / "astronomy_test.csv"), header=False)
    assert _correct_texts(adapter)[:2] == ["The Sun", "Mercury"]


def test_headerless_with_a_positional_column_map(tmp_path):
    path = _write(tmp_path / "q.csv", "id-1,Pick two,1,2,3,1\nid-2,Pick three,3,2,1,0\n")
    columns = {"id": 1, "question": 2, "options": [3, 4, 5], "answer": 6, "answer_format": "index"}
    adapter = _adapter(path=str(path), header=False, columns=columns)
    assert _correct_texts(adapter) == ["2", "3"]
    assert _by_row(adapter)[1].meta["source"]["id"] == "id-2"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"header": False, "columns": {"question": "q", "choices": "c", "answer": "a"}}, "positions"),
        ({"columns": {"question": 1, "choices": 2, "answer": 3}}, "need header = false"),
        ({"header": "no"}, "true or false"),
        ({"preset": "arc-challenge", "header": False}, "header line"),
        ({"header": False, "file": "q.jsonl"}, "CSV"),
    ],
)
def test_header_option_errors(tmp_path, options, fragment):
    name = options.pop("file", "q.csv")
    path = _write(tmp_path / name, "a,b,c\n" if name.endswith(".csv") else "{}\n")
    with pytest.raises(UserError) as excinfo:
        _adapter(path=str(path), **options)
    assert fragment in _one_line(excinfo)


def test_headerless_detection_only_fires_on_data_rows():
    assert looks_headerless(["What is 2+2?", "3", "4", "5", "6", "B"])
    assert looks_headerless(["x", "x", "y"])
    assert not looks_headerless(["question", "choices", "answer"])
    assert not looks_headerless(["Question", "Correct Answer", "Incorrect Answer 1", "Record ID"])
    assert not looks_headerless(["question", "A", "B", "C", "D"])
    assert not looks_headerless(["", "question", "choices"])  # pandas' index column


# ---- other file shapes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([{"question": "2+2?", "choices": ["3", "4"], "answer": 1}], indent=2),
        json.dumps({"data": [{"question": "2+2?", "choices": ["3", "4"], "answer": 1}]}, indent=2),
        json.dumps({"question": "2+2?", "choices": ["3", "4"], "answer": 1}) + "\n",  # Dataset.to_json: JSON Lines
    ],
)
def test_json_array_wrapper_and_lines(tmp_path, text):
    path = _write(tmp_path / "q.json", text)
    assert _adapter(path=str(path)).item(0, "all", 0).gold == "B"


def test_csv_cells_stay_text(tmp_path):
    # pandas would read these as missing values or numbers; here they are option texts.
    path = _write(tmp_path / "q.csv", "q,o1,o2,o3,a\nWhich literal?,None,nan,N/A,nan\nWhich number?,1.0,1,01,01\n")
    columns = {"question": "q", "options": ["o1", "o2", "o3"], "answer": "a", "answer_format": "text"}
    adapter = _adapter(path=str(path), columns=columns)
    by_row = _by_row(adapter)
    assert by_row[0].meta["options"] == ["None", "nan", "N/A"] and by_row[0].gold == "B"
    assert by_row[1].meta["options"] == ["1.0", "1", "01"] and by_row[1].gold == "C"


def test_csv_with_a_byte_order_mark_and_crlf(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes("\ufeffquestion,choices,answer\r\n2+2?,\"[\"\"3\"\", \"\"4\"\"]\",1\r\n".encode())
    assert _adapter(path=str(path)).item(0, "all", 0).gold == "B"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("['4' '6' '8']", ["4", "6", "8"]),
        ("['a b' 'c'\n 'd']", ["a b", "c", "d"]),
        ("['x', \"it's\", 'y']", ["x", "it's", "y"]),
        ('["a", "b"]', ["a", "b"]),
        ("{'text': array(['p', 'q'], dtype=object), 'label': array(['1', '2'], dtype=object)}", {"text": ["p", "q"], "label": ["1", "2"]}),
        ("array(['a', 'b'], dtype='<U1')", None),  # not a list cell: must start with [ or {
        ("[None, 'a', nan]", [None, "a", None]),
        ("['\\u00e9t\\xe9']", ["été"]),
        ("[__import__('os').system('true')]", None),
        ("['unterminated", None),
        ("[1, 2", None),
        ("plain text", None),
    ],
)
def test_list_cells_are_parsed_without_eval(text, expected):
    assert parse_list_cell(text) == expected


def test_list_cell_parsing_is_linear():
    text = "[" + " ".join(f"'option {i}'" for i in range(50_000)) + "]"
    start = time.perf_counter()
    assert len(parse_list_cell(text)) == 50_000
    assert time.perf_counter() - start < 2.0


# ---- errors name the file, the line or row, the id ----------------------------------------


def test_broken_json_line_names_the_line(tmp_path):
    path = _write(tmp_path / "q.jsonl", '{"question": "a?", "choices": ["1", "2"], "answer": 0}\n\n{"question": "b?", "choices": ["1", \n')
    with pytest.raises(UserError) as excinfo:
        _adapter(path=str(path)).available("all")
    message = _one_line(excinfo)
    assert f"{path} line 3" in message and "not valid JSON" in message and "skip_bad_rows" in message


def test_csv_row_with_wrong_field_count_names_the_line(tmp_path):
    path = _write(tmp_path / "q.csv", 'question,choices,answer\n"a?","[""1"", ""2""]",0\n"b?","[""1"", ""2""]",0,extra\n')
    with pytest.raises(UserError) as excinfo:
        _adapter(path=str(path)).available("all")
    assert f"{path} line 3: 4 fields where the header has 3" in _one_line(excinfo)


def test_bad_row_is_named_by_its_id(tmp_path):
    rows = _jsonl_rows("arc_challenge.jsonl")
    rows[2]["answerKey"] = "E"
    path = tmp_path / "arc.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(UserError) as excinfo:
        _adapter(preset="arc-challenge", path=str(path)).available("all")
    message = _one_line(excinfo)
    assert f"{path} line 3 (id Mercury_SC_401169): answer 'E' is not one of the labels A, B, C" in message


def test_bad_row_in_parquet_is_named_by_its_1_based_row(tmp_path):
    rows = [{"question": "a?", "choices": ["1", "2"], "answer": 0}, {"question": "b?", "choices": ["1", "2"], "answer": 5}]
    path = _parquet(tmp_path / "q.parquet", rows)
    with pytest.raises(UserError) as excinfo:
        _adapter(path=str(path)).available("all")
    assert f"{path} row 2: answer 5 is out of range" in _one_line(excinfo)


def test_skip_bad_rows_skips_and_counts(tmp_path):
    lines = [
        json.dumps({"question": "a?", "choices": ["1", "2"], "answer": 0}),
        '{"question": "broken',
        json.dumps({"question": "c?", "choices": ["1", "2"], "answer": 9}),
        json.dumps({"question": "d?", "choices": ["1", "2"], "answer": 1}),
    ]
    path = _write(tmp_path / "q.jsonl", "\n".join(lines) + "\n")
    adapter = _adapter(path=str(path), skip_bad_rows=True)
    assert adapter.available("all") == 2 and adapter.skipped_rows == 2
    info = adapter.dataset_info()
    assert info["rows"] == 2 and info["skipped_rows"] == 2
    assert [reason.split(":")[0] for reason in info["skipped"]] == [f"{path} line 2", f"{path} line 3"]
    items = adapter.items(0, "all", 2)
    assert sorted((item.meta["source"]["row"], item.meta["source"]["line"]) for item in items) == [(0, 1), (3, 4)]


def test_skip_bad_rows_with_nothing_left_is_an_error(tmp_path):
    path = _write(tmp_path / "q.jsonl", json.dumps({"question": "c?", "choices": ["1", "2"], "answer": 9}) + "\n")
    with pytest.raises(UserError) as excinfo:
        _adapter(path=str(path), skip_bad_rows=True).available("all")
    assert "no usable rows; 1 skipped" in _one_line(excinfo)


def test_missing_file_names_the_folder_looked_in_and_a_near_miss(tmp_path):
    (tmp_path / "gpqa_diamond.csv").write_text("x\n")
    with pytest.raises(UserError) as excinfo:
        _adapter(preset="gpqa-diamond", path=str(tmp_path / "gpqa-diamond.csv"))
    message = _one_line(excinfo)
    assert "dataset file" in message and f"looked in {tmp_path}" in message and "suite file's folder" in message
    assert "did you mean 'gpqa_diamond.csv'?" in message


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b"question,choices,answer\nCaf\xe9?,\"[1, 2]\",0\n")
    with pytest.raises(UserError) as excinfo:
        _adapter(path=str(path)).available("all")
    assert f"{path} line 2: not UTF-8" in _one_line(excinfo)


# ---- source ids and the show API -------------------------------------------------------------


def test_source_meta_of_a_local_file():
    path = DATA / "arc_challenge.jsonl"
    item = _by_row(_adapter(preset="arc-challenge", path=str(path)))[1]
    source = item.meta["source"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    assert source == {"dataset": str(path), "preset": "arc-challenge", "config": None, "split": None,
                      "revision": f"sha256:{digest}", "id": "NYSEDREGENTS_2015_4_8", "row": 1, "line": 2}
    assert source_label(item) == f"{path} @ sha256:{digest} line 2, id NYSEDREGENTS_2015_4_8"


def test_generated_items_have_a_source_too():
    item = MultipleChoice().item(0, "easy", 0)
    assert item.meta["source"]["dataset"] == "generated" and source_label(item) is None


def test_task_items_builds_a_suite_task():
    task = SimpleNamespace(family="mcq", name="arc", levels=[], items=2, options={"preset": "arc-challenge", "path": str(DATA / "arc_challenge.jsonl")})
    items = task_items(task)
    assert [item.id for item in items] == ["arc/all/0000", "arc/all/0001"]
    assert all(item.meta["source"]["id"] for item in items)
    assert len(task_items(task, count=50)) == 4  # capped at the dataset's size
    arithmetic = task_items(SimpleNamespace(family="arithmetic", options={}), count=1)
    assert arithmetic and all(item.task == "arithmetic" for item in arithmetic)


# ---- the Hub -------------------------------------------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"


def _mmlu_parquet_bytes() -> bytes:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    schema = pa.schema([("question", pa.string()), ("subject", pa.string()), ("choices", pa.list_(pa.string())), ("answer", pa.int64())])
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(_jsonl_rows("mmlu.jsonl"), schema=schema), sink)
    return sink.getvalue()


class FakeHub(ThreadingHTTPServer):
    """The few Hub routes huggingface_hub uses to list a dataset repo and download a file."""

    daemon_threads = True

    def __init__(self, files: dict[str, bytes], gated: bool = False):
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.files, self.gated, self.requests = files, gated, []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HubHandler(BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.server.requests.append((self.command, self.path.split("?")[0]))
        path = self.path.split("?")[0]
        if path.startswith("/api/datasets/cais/mmlu"):
            info = {"id": "cais/mmlu", "sha": SHA, "private": False, "gated": "manual" if self.server.gated else False,
                    "siblings": [{"rfilename": name} for name in sorted(self.server.files)]}
            return self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
        prefix = next((f"/datasets/cais/mmlu/resolve/{rev}/" for rev in ("main", SHA) if path.startswith(f"/datasets/cais/mmlu/resolve/{rev}/")), "-")
        if path.startswith(prefix) and path[len(prefix):] in self.server.files:
            if self.server.gated:
                return self._send(401, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access to dataset cais/mmlu is restricted."})
            body = self.server.files[path[len(prefix):]]
            etag = hashlib.sha256(body).hexdigest()
            return self._send(200, body, {"X-Repo-Commit": SHA, "ETag": f'"{etag}"', "Content-Type": "application/octet-stream"})
        return self._send(404, b'{"error": "not found"}', {"X-Error-Code": "EntryNotFound", "Content-Type": "application/json"})

    do_HEAD = do_GET


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


LOAD_SCRIPT = """
import json, sys
from ttc_bench.adapters.mcq import MultipleChoice
from ttc_bench.errors import UserError
try:
    adapter = MultipleChoice(options=json.loads(sys.argv[1]))
    items = adapter.items(0, "all", adapter.available("all"))
    print(json.dumps({"golds": {i.meta["row"]: i.gold for i in items}, "source": items[0].meta["source"]}))
except UserError as exc:
    print("error: " + str(exc))
"""


def _load_in_a_fresh_process(tmp_path: Path, endpoint: str, options: dict, **env_overrides) -> tuple[subprocess.CompletedProcess, float]:
    """A new interpreter, as the CLI is: huggingface_hub reads its settings at import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update({"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0",
                "PYTHONPATH": str(ROOT), **env_overrides})
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, json.dumps(options)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    return done, time.monotonic() - start


def test_hub_preset_downloads_only_its_split_and_records_the_revision(tmp_path):
    pytest.importorskip("huggingface_hub")
    test_file = _mmlu_parquet_bytes()
    files = {"README.md": b"---\n---\n", "all/test-00000-of-00001.parquet": test_file,
             "all/auxiliary_train-00000-of-00001.parquet": b"big", "all/validation-00000-of-00001.parquet": b"v",
             "abstract_algebra/test-00000-of-00001.parquet": b"a"}
    hub = _serve(FakeHub(files))
    try:
        done, _ = _load_in_a_fresh_process(tmp_path, hub.url, {"preset": "mmlu"})
        assert done.returncode == 0 and not done.stderr, done.stderr
        result = json.loads(done.stdout)
        assert result["golds"] == {"0": "C", "1": "A", "2": "D", "3": "B"}
        assert result["source"] == {"dataset": "cais/mmlu", "preset": "mmlu", "config": "all", "split": "test",
                                    "revision": SHA, "id": result["source"]["id"], "row": result["source"]["row"], "line": None}
        fetched = {path for method, path in hub.requests if method == "GET" and "/resolve/" in path}
        assert fetched == {"/datasets/cais/mmlu/resolve/main/all/test-00000-of-00001.parquet"}
        # Offline, the cached split is used without a single request.
        hub.requests.clear()
        done, _ = _load_in_a_fresh_process(tmp_path, hub.url, {"preset": "mmlu"}, HF_HUB_OFFLINE="1")
        assert json.loads(done.stdout)["source"]["revision"] == SHA and hub.requests == []
    finally:
        hub.shutdown()


def test_hub_gated_dataset_says_what_to_do(tmp_path):
    pytest.importorskip("huggingface_hub")
    hub = _serve(FakeHub({"all/test-00000-of-00001.parquet": b"x"}, gated=True))
    try:
        done, _ = _load_in_a_fresh_process(tmp_path, hub.url, {"preset": "mmlu"})
    finally:
        hub.shutdown()
    assert done.stdout.startswith("error: ") and done.stdout.count("\n") == 1
    assert "gated" in done.stdout and "HF_TOKEN" in done.stdout and not done.stderr


@pytest.fixture
def silent_server():
    """Accepts connections and never answers (a Hub behind a black-holing proxy)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def _refusing_endpoint() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connections are refused
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("kind", ["silent", "refused"])
def test_unreachable_hub_fails_in_one_line_within_10_s(tmp_path, request, kind):
    pytest.importorskip("huggingface_hub")
    endpoint = request.getfixturevalue("silent_server") if kind == "silent" else _refusing_endpoint()
    done, elapsed = _load_in_a_fresh_process(tmp_path, endpoint, {"preset": "arc-challenge"})
    assert elapsed < 10, elapsed
    assert done.returncode == 0 and not done.stderr, done.stderr  # no retry chatter
    assert done.stdout.startswith("error: ") and done.stdout.count("\n") == 1, done.stdout
    message = done.stdout
    assert "cannot reach the Hugging Face Hub" in message and endpoint in message
    assert 'add path = "test-00000-of-00001.parquet"' in message and "ARC-Challenge/test-00000-of-00001.parquet" in message


def _use_cache(monkeypatch, cache: Path):
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_offline_without_a_cached_copy_says_how_to_use_a_local_file(tmp_path, monkeypatch):
    _use_cache(monkeypatch, tmp_path / "empty-cache")
    start = time.monotonic()
    with pytest.raises(UserError) as excinfo:
        _adapter(preset="arc-challenge").available("all")
    message = _one_line(excinfo)
    assert time.monotonic() - start < 5
    assert "HF_HUB_OFFLINE is set" in message and "allenai/ai2_arc" in message and "add path =" in message


def test_offline_reads_the_cached_split(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    repo = cache / "datasets--allenai--ai2_arc"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(SHA)
    _parquet_dir = repo / "snapshots" / SHA / "ARC-Challenge"
    _parquet_dir.mkdir(parents=True)
    _parquet(_parquet_dir / "test-00000-of-00001.parquet", _jsonl_rows("arc_challenge.jsonl"))
    _use_cache(monkeypatch, cache)
    adapter = _adapter(preset="arc-challenge")
    assert _correct_texts(adapter) == ARC_GOLD
    item = _by_row(adapter)[0]
    assert item.meta["source"]["revision"] == SHA and item.meta["source"]["dataset"] == "allenai/ai2_arc"
    assert source_label(item) == f"allenai/ai2_arc ARC-Challenge/test @ {SHA[:12]} row 0, id Mercury_7175875"


def test_an_unknown_repo_layout_falls_back_to_the_datasets_library_at_the_same_revision(monkeypatch):
    datasets = pytest.importorskip("datasets")
    from ttc_bench.adapters import mcq_datasets
    from ttc_bench.adapters.mcq_hub import HubFiles

    calls = []
    monkeypatch.setattr(mcq_datasets, "fetch", lambda request: HubFiles([], SHA))
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append((a, k)) or datasets.Dataset.from_list(_jsonl_rows("arc_challenge.jsonl")))
    adapter = _adapter(preset="arc-challenge")
    assert _correct_texts(adapter) == ARC_GOLD
    assert calls == [(("allenai/ai2_arc", "ARC-Challenge"), {"split": "test", "revision": SHA})]
    assert _by_row(adapter)[0].meta["source"]["revision"] == SHA
