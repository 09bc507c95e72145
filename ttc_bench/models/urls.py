"""Endpoint URLs: joining paths without losing a query string, and redacting credentials."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that carry credentials on some hosted APIs (Azure ``api-key``, Gemini
# ``key``, signed URLs): their values are redacted like user:password@ credentials.
SECRET_QUERY_KEYS = frozenset({
    "key", "api_key", "api-key", "apikey", "token", "access_token", "auth", "password", "secret",
    "sig", "signature", "x-api-key",
})


def redact_url(url: str) -> str:
    """The URL with user:password@ credentials and secret query values replaced, safe to
    store and print."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        # Unparseable: keep only what cannot hold a credential.
        return url.split("@")[-1].split("?")[0] if "@" in url or "?" in url else url
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode([(k, "***" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_secrets(url: str) -> list[str]:
    """The credential strings a URL carries, in every form they may be echoed back: the
    password (as written and decoded), the Basic auth token httpx builds from
    user:password, and secret query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    if parts.password:
        user, password = unquote(parts.username or ""), unquote(parts.password)
        found += [parts.password, password, base64.b64encode(f"{user}:{password}".encode()).decode()]
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in SECRET_QUERY_KEYS and v]
    return found


def join(base_url: str, path: str, *, replace_path: bool = False) -> str:
    """``base_url`` with ``path`` appended to its path (or replacing it), its query string
    kept where it belongs: ``http://h/v1?k=1`` + ``chat/completions`` gives
    ``http://h/v1/chat/completions?k=1``."""
    parts = urlsplit(base_url)
    suffix = path.strip("/")
    new_path = "/" + suffix if replace_path else parts.path.rstrip("/") + "/" + suffix
    return urlunsplit((parts.scheme, parts.netloc, new_path, parts.query, ""))


def origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
