"""Fetching one split of a preset from the Hugging Face Hub, or failing fast and saying so.

What this does instead of ``datasets.load_dataset(repo, config, split=...)`` and why:

- It downloads only the files of the split it uses. ``load_dataset`` prepares every split of
  a config before returning one (``download_and_prepare`` is not told the split), so MMLU's
  ``all`` config also fetched its 99,842-row ``auxiliary_train`` to use the 14,042-row test
  split. The files come from the repo's own layout (its README ``configs`` section), e.g.
  ``all/test-*`` for cais/mmlu, matched against the repo's file list.
- It asks the Hub once, with a bounded wait, before anything else. huggingface_hub retries a
  failing request five times with 1-8 s back-off and logs every attempt, so an unreachable
  Hub cost 24 s and 11 log lines (connection refused) or minutes (a Hub that accepts and never
  answers: each attempt waits its full read timeout). The probe waits at most
  ``HF_HUB_ETAG_TIMEOUT`` seconds (default here 4) for the answer, and the whole check,
  name resolution included, at most 2 s more; then one line says what to do.
- ``HF_HUB_OFFLINE`` (or ``HF_DATASETS_OFFLINE``) means no request at all: the split is taken
  from the Hugging Face cache. An unreachable Hub falls back to the cache the same way.
- The revision (commit) actually read is returned, so items can record it.

The library's own loader remains the fallback when a repo's layout no longer matches the
preset's file patterns (it then fetches all splits, as before).
"""

from __future__ import annotations

import fnmatch
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import UserError

DEFAULT_TIMEOUT_S = 4.0
# The request timeout bounds connect and read, not name resolution, nor the side requests
# the library makes on first use (huggingface_hub 1.x+ fetches an "agent harnesses" list
# with its own 3 s timeout to build its user agent); the whole probe is cut off here.
DEADLINE_SLACK_S = 2.0
_TRUE = {"1", "on", "yes", "true"}


@dataclass(frozen=True)
class HubFiles:
    paths: list[Path]  # the split's files in the local Hugging Face cache, in name order
    revision: str | None  # the commit they were read at


@dataclass(frozen=True)
class HubRequest:
    hub_id: str
    config: str | None
    split: str
    patterns: tuple[str, ...]  # the split's files, e.g. ("all/test-*",)
    revision: str | None = None
    example: str = ""  # one file name of the default split, for the "use a local copy" hint

    def describe(self) -> str:
        parts = [part for part in (self.config, self.split) if part]
        return f"{self.hub_id} ({', '.join(parts)})" if parts else self.hub_id


class HubUnreachable(Exception):
    """No usable answer from the Hub (network, DNS, timeout): the cache may still help."""


def offline() -> bool:
    """HF_HUB_OFFLINE and friends, read now (the libraries read them once, at import)."""
    if any((os.environ.get(name) or "").strip().lower() in _TRUE for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return True
    constants = sys.modules.get("huggingface_hub.constants")
    return bool(constants is not None and getattr(constants, "HF_HUB_OFFLINE", False))


def endpoint() -> str:
    constants = sys.modules.get("huggingface_hub.constants")
    default = getattr(constants, "ENDPOINT", None) or "https://huggingface.co"
    return (os.environ.get("HF_ENDPOINT") or default).rstrip("/")


def request_timeout() -> float:
    """The user's HF_HUB_ETAG_TIMEOUT if set (a slow link may need more), else 4 s."""
    raw = os.environ.get("HF_HUB_ETAG_TIMEOUT")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        value = DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def fetch(request: HubRequest) -> HubFiles:
    """The split's files (downloaded or cached). No paths means the repo has no file matching
    the patterns: the caller then falls back to the datasets library, at that revision."""
    hub = _import_hub()
    if offline():
        cached = _from_cache(hub, request)
        if cached is None:
            raise UserError(_offline_message(request))
        return cached
    with _quiet(hub):
        try:
            info = _probe(hub, request)
        except HubUnreachable as exc:
            cached = _from_cache(hub, request)
            if cached is None:
                raise UserError(_unreachable_message(request, str(exc))) from None
            return cached
        names = sorted(s.rfilename for s in (info.siblings or []) if _matches(s.rfilename, request.patterns))
        paths = [_download(hub, request, name) for name in names]
        return HubFiles(paths, _commit_of(paths[0]) if paths else info.sha)


def _import_hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise UserError("mcq presets need huggingface_hub: pip install datasets (or huggingface_hub)") from None
    return huggingface_hub


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _within(seconds: float, call: Callable[[], Any]) -> Any:
    """call() on a daemon thread, given up on after ``seconds``: a request timeout bounds
    connect and read, but not a hanging name lookup. The abandoned thread dies with its own
    timeout and never keeps the process alive."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=run, name="ttc-bench-hub-probe", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise HubUnreachable(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _probe(hub: Any, request: HubRequest) -> Any:
    """The repo's file list and commit, in one request, or HubUnreachable / a UserError."""
    timeout = request_timeout()
    api = hub.HfApi(endpoint=endpoint())
    try:
        return _within(timeout + DEADLINE_SLACK_S, lambda: api.dataset_info(request.hub_id, revision=request.revision, timeout=timeout))
    except HubUnreachable:
        raise
    except Exception as exc:  # every library version and HTTP stack raises its own types
        raise _classify(exc, request) from None


def _download(hub: Any, request: HubRequest, name: str) -> Path:
    # By branch or tag name, not by the probe's commit: the cache then records the name
    # (refs/main), which is how an offline run finds the copy later.
    try:
        path = hub.hf_hub_download(
            request.hub_id, name, repo_type="dataset", revision=request.revision, endpoint=endpoint(), etag_timeout=request_timeout()
        )
    except Exception as exc:
        error = _classify(exc, request)
        if isinstance(error, HubUnreachable):
            raise UserError(_unreachable_message(request, str(error))) from None
        raise error from None
    return Path(path)


def _commit_of(path: Path) -> str | None:
    """The cache keeps files under snapshots/<commit>/: the revision actually read."""
    parts = path.parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None


def _from_cache(hub: Any, request: HubRequest) -> HubFiles | None:
    with _quiet(hub):
        try:
            folder = hub.snapshot_download(
                request.hub_id, repo_type="dataset", revision=request.revision, allow_patterns=list(request.patterns), local_files_only=True
            )
        except Exception:  # not cached (each version names this differently)
            return None
    root = Path(folder)
    paths = sorted({path for pattern in request.patterns for path in root.glob(pattern) if path.is_file()})
    if not paths:
        return None
    return HubFiles(paths, root.name)  # snapshot folders are named by commit


def _classify(exc: Exception, request: HubRequest) -> Exception:
    """A library exception -> HubUnreachable (try the cache) or a one-line UserError."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = getattr(getattr(exc, "response", None), "status_code", None)
    page = f"{endpoint()}/datasets/{request.hub_id}"
    if "LocalEntryNotFoundError" in names:
        # hf_hub_download's way of saying "could not connect and nothing cached"
        return HubUnreachable(" ".join(str(exc).split())[:120])
    if "GatedRepoError" in names:
        return UserError(
            f"mcq: {request.hub_id} is gated: accept its terms at {page} and set HF_TOKEN to a token of that account "
            "(or use a local copy: add path = \"...\" to the task)"
        )
    if "EntryNotFoundError" in names or "RemoteEntryNotFoundError" in names:
        return UserError(f"mcq: a file of {request.describe()} vanished from the Hub while loading ({' '.join(str(exc).split())[:120]}); try again")
    if "RevisionNotFoundError" in names:
        return UserError(f"mcq: {request.hub_id} has no revision {request.revision!r}")
    if "RepositoryNotFoundError" in names or status == 404:
        # The Hub answers 401 for a missing repo too, so "private" is only a possibility.
        return UserError(f"mcq: dataset {request.hub_id} not found at {endpoint()} (if it is private or gated, set HF_TOKEN)")
    if status in (401, 403):
        return UserError(f"mcq: the Hub refused access to {request.hub_id} (HTTP {status}); accept its terms at {page} and set HF_TOKEN")
    if "OfflineModeIsEnabled" in names:
        return UserError(_offline_message(request))
    if isinstance(status, int):
        return UserError(f"mcq: the Hugging Face Hub answered HTTP {status} for {request.hub_id}; try again later, or use a local copy (add path = \"...\" to the task)")
    return HubUnreachable(" ".join(str(exc).split())[:120] or type(exc).__name__)


def _local_copy_hint(request: HubRequest) -> str:
    if not request.example:
        return "add path = \"<file>\" to the task, a local copy of the split (relative to the suite file)"
    url = f"{endpoint()}/datasets/{request.hub_id}/resolve/main/{request.example}"
    return f"download {url} and add path = \"{Path(request.example).name}\" to the task (relative to the suite file)"


def _unreachable_message(request: HubRequest, reason: str) -> str:
    return (
        f"mcq: cannot reach the Hugging Face Hub at {endpoint()} for {request.describe()} ({reason}) and it is not cached; "
        f"{_local_copy_hint(request)}"
    )


def _offline_message(request: HubRequest) -> str:
    return (
        f"mcq: HF_HUB_OFFLINE is set and {request.describe()} is not in the Hugging Face cache; "
        f"unset it to download the split once, or {_local_copy_hint(request)}"
    )


@contextmanager
def _quiet(hub: Any) -> Iterator[None]:
    """No retry warnings or progress bars from the library: a failure is reported by us, in
    one line, and a few-MB split downloads in seconds."""
    import huggingface_hub.utils as utils  # a lazy attribute of the package in recent versions

    level = utils.logging.get_verbosity()
    bars_were_off = utils.are_progress_bars_disabled()
    utils.logging.set_verbosity_error()
    utils.disable_progress_bars()
    try:
        yield
    finally:
        utils.logging.set_verbosity(level)
        if not bars_were_off:
            utils.enable_progress_bars()
