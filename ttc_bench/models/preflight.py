"""Before any sample: which profile an endpoint needs, and whether it serves the model.

``--api auto`` picks the profile from the base URL's host for hosted APIs, else from the
server's own ``GET /models`` answer (``owned_by``: vllm, sglang, llamacpp, me for
llama-cpp-python) or Ollama's ``GET /api/version``; anything else is ``generic``.
Every wait here has its own short bound and says what it waited for.
"""

from __future__ import annotations

import os
from typing import Any

from .client import ChatClient
from .failures import FATAL_STATUS, EndpointError
from .profiles import BY_NAME, Profile, from_host, from_owned_by, get_profile
from .urls import join, origin, redact_url

PREFLIGHT_TIMEOUT_S = 20.0


def _owned_by(body: Any) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    return [str(m.get("owned_by")) for m in data or [] if isinstance(m, dict) and m.get("owned_by")]


def served_models(body: Any) -> list[str] | None:
    """Model ids of a /models answer (OpenAI list or Anthropic's), None when it has none."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    ids = [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
    return ids or None


def _get(url: str, headers: dict, timeout_s: float) -> tuple[int | None, Any]:
    """(status, JSON body); (None, None) when unreachable. A server that accepts the
    connection and never answers is an error here: waiting for it again later would only
    double the wait."""
    import httpx

    try:
        response = httpx.get(url, headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)))
    except httpx.TimeoutException:
        raise EndpointError(
            f"{redact_url(url)} did not answer within {timeout_s:g} s; check --base-url and that the server is up "
            "(a proxy that accepts connections but never answers?)"
        ) from None
    except httpx.HTTPError:
        return None, None
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


def detect_profile(api: str, base_url: str, api_key_env: str | None, timeout_s: float = PREFLIGHT_TIMEOUT_S) -> tuple[Profile, str]:
    # Asking a server what it is: its /models answer names it (vLLM, SGLang, llama.cpp),
    # or Ollama's /api/version does. Bounded like the preflight.
    """(profile, how it was chosen) for ``--api`` (a name or ``auto``)."""
    if api != "auto":
        return get_profile(api), f"--api {api}"
    hosted = from_host(base_url)
    if hosted is not None:
        return hosted, "the base URL's host"
    key = os.environ.get(api_key_env) if api_key_env else None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    status, body = _get(join(base_url, "models"), headers, timeout_s)
    found = from_owned_by(_owned_by(body)) if status == 200 else None
    if found is not None:
        return found, f"GET /models (owned_by {found.owned_by[0]})"
    status, body = _get(join(origin(base_url), "api/version"), headers, min(timeout_s, 5.0))
    if status == 200 and isinstance(body, dict) and "version" in body:
        return BY_NAME["ollama"], f"GET /api/version (Ollama {body['version']})"
    return BY_NAME["generic"], "no server it recognises (GET /models names none)"


def _matches(model: str, served: list[str]) -> bool:
    """Served ids may carry a prefix (Gemini's ``models/``) or a date (Anthropic's
    ``claude-sonnet-4-5-20250929`` for the alias ``claude-sonnet-4-5``)."""
    bare = model.removeprefix("models/")
    for name in served:
        candidate = name.removeprefix("models/")
        if candidate == bare or candidate.startswith(bare + "-") or (":" not in bare and candidate == bare + ":latest"):
            return True
    return False


async def preflight(client: ChatClient) -> None:
    """Fail fast, before any sample, when an endpoint is unreachable, refuses the key, or
    lists models that do not include the one asked for."""
    import httpx

    endpoint, profile = client.endpoint, client.profile
    bound = min(PREFLIGHT_TIMEOUT_S, endpoint.timeout_s)
    for base in endpoint.base_urls:
        where = redact_url(base)
        try:
            status, body = await client.get_json(join(base, profile.models_path), bound, dict(profile.models_params) or None)
        except httpx.TimeoutException:
            raise EndpointError(
                f"{where} did not answer GET {profile.models_path} within {bound:g} s; "
                "check --base-url and that the server is up (a proxy that accepts connections but never answers?)"
            ) from None
        except httpx.HTTPError as exc:
            if "ssl" in str(exc).lower() or "certificate" in str(exc).lower():
                raise EndpointError(f"TLS handshake with {where} failed ({str(exc)[:160]}); check the URL's scheme and the server's certificate") from None
            raise EndpointError(f"cannot reach {where} ({type(exc).__name__}); check --base-url and that the server is running") from None
        if status in (401, 403):
            hint = f"set ${endpoint.api_key_env}" if endpoint.api_key_env else "pass --api-key-env"
            raise EndpointError(f"{where}: {FATAL_STATUS[status]} ({status}); {hint} to a valid key")
        served = served_models(body) if status == 200 else None
        if profile.checks_model and served and not _matches(endpoint.model, served):
            listed = ", ".join(served[:8]) + (" ..." if len(served) > 8 else "")
            raise EndpointError(f"{where} does not serve model {endpoint.model!r}; it lists: {listed}")



def server_version(profile: Profile, base_url: str, api_key_env: str | None, timeout_s: float = 5.0) -> str | None:
    """The engine version the server reports about itself (vLLM /version, Ollama
    /api/version, llama.cpp /props build_info), or None: numbers depend on the engine
    build, so the manifest records it."""
    if profile.version_path is None:
        return None
    key = os.environ.get(api_key_env) if api_key_env else None
    status, body = _get(join(origin(base_url), profile.version_path), {"Authorization": f"Bearer {key}"} if key else {}, timeout_s)
    value = body.get(profile.version_field) if status == 200 and isinstance(body, dict) else None
    return str(value)[:200] if value is not None else None
