"""From a RunSpec to a ready endpoint: the embedded server or a remote one, its provider
profile (named or detected), the model's chat template where budget forcing needs it,
and the plan-time checks of the budgets and sampling against the profile."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .models.client import Endpoint
from .models.preflight import PREFLIGHT_TIMEOUT_S, detect_profile
from .models.profiles import Profile, resolve
from .models.request import check_plan
from .spec import RunSpec

DEFAULT_REMOTE_CONCURRENCY = 8


@dataclass
class Connection:
    endpoint: Endpoint
    chosen: str  # how the profile was chosen
    warnings: list[str]
    concurrency: int
    engine: dict  # what serves the model, and its version: results depend on the build


def _embedded_engine(gguf: Path, threads: int) -> dict:
    import hashlib
    from importlib import metadata

    digest = hashlib.sha256()
    with open(gguf, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        version = None
    return {"name": "llama-cpp-python", "version": version, "model_file": gguf.name,
            "model_sha256": digest.hexdigest(), "threads": threads}


def chat_template(spec: RunSpec, profile: Profile, gguf_path):
    """The model's chat template, when budget forcing continues through the completions
    endpoint (llama-cpp-python): the served GGUF, or the bundled one when a remote
    llama-cpp-python server serves the embedded model's name (``ttc-bench serve``)."""
    from .models.chat_template import ChatTemplate
    from .models.local import EMBEDDED_MODEL, find_bundled_gguf

    if profile.continuation is None or profile.continuation.mechanism != "completions":
        return None
    path = gguf_path or spec.gguf
    if path is None and spec.model == EMBEDDED_MODEL:
        try:
            path = find_bundled_gguf()
        except UserError:
            return None
    return ChatTemplate.from_gguf(path) if path else None


def connect(spec: RunSpec, stack: ExitStack, log, *, check: bool = True) -> Connection:
    """The endpoint for ``spec``; the embedded server is started inside ``stack``. With
    ``check``, what the profile refuses stops here, before any request (and before the
    embedded server starts), and what it documents as a no-op is logged as a warning."""
    from .models.local import EMBEDDED_CONCURRENCY, EMBEDDED_MODEL, default_threads, embedded_server, find_bundled_gguf
    from .models.preflight import server_version

    if spec.embedded:
        profile, chosen = detect_profile("llama-cpp-python" if spec.api == "auto" else spec.api, "", None)
        chosen = "the embedded model" if spec.api == "auto" else chosen
        model = EMBEDDED_MODEL if spec.gguf is None else Path(spec.gguf).stem
        template = chat_template(spec, profile, spec.gguf or find_bundled_gguf())
    else:
        bound = min(PREFLIGHT_TIMEOUT_S, spec.timeout_s)
        profile, chosen = detect_profile(spec.api, spec.base_urls[0], spec.api_key_env, bound)
        profile, model = resolve(profile, spec.model), spec.model
        template = chat_template(spec, profile, None)
    warnings = []
    if check:
        warnings = check_plan(
            profile, spec.budgets, spec.sampling(), model, n_parameter=spec.n_parameter, chat_template=template is not None,
        )
        for warning in warnings:
            log(f"warning: {warning}")
    if spec.embedded:
        log("starting the embedded model (llama.cpp server on 127.0.0.1)...")
        base_url, gguf = stack.enter_context(embedded_server(spec.gguf))
        endpoint = Endpoint((base_url,), model, profile, api_key_env=None, identity=f"embedded:{gguf.name}",
                            timeout_s=spec.timeout_s, chat_template=template)
        engine = _embedded_engine(gguf, default_threads())
        return Connection(endpoint, chosen, warnings, spec.concurrency or EMBEDDED_CONCURRENCY, engine)
    log(f"endpoint: {profile.title} (chosen by {chosen})")
    endpoint = Endpoint(tuple(spec.base_urls), model, profile, api_key_env=spec.api_key_env,
                        timeout_s=spec.timeout_s, chat_template=template)
    engine = {"name": profile.title, "version": server_version(profile, spec.base_urls[0], spec.api_key_env)}
    return Connection(endpoint, chosen, warnings, spec.concurrency or DEFAULT_REMOTE_CONCURRENCY, engine)
