"""Provider profiles: what each kind of endpoint accepts and returns, as one table.

A profile is a declarative record: the token-cap field, which sampling parameters are
accepted, effort levels, the thinking-budget fields and range, where reasoning text and
reasoning-token counts come back, whether ``n`` and ``seed`` work, the preflight request,
and how an assistant message is continued (budget forcing). docs/providers.md gives the
source of every fact; tests/emulators/ enforces them independently.

Model-specific facts (OpenAI's reasoning vs chat models, Claude 4.x sampling rules, Gemini
budget ranges) are :class:`ModelRule` overrides applied by :func:`resolve`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from ..errors import UserError

# The string standing for the token figure in a profile's thinking-budget fields.
BUDGET = "<budget>"

ALL_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class Thinking:
    """How a provider takes ``thinking:N``: ``fields`` merged into the request body with
    :data:`BUDGET` replaced by N, the valid range, and whether the token cap must be
    raised so the answer still fits after N thinking tokens."""

    fields: dict
    minimum: int = 1
    maximum: int | None = None
    raise_cap: bool = True
    # Releases documented to drop the field silently (a plan-time warning; probe checks).
    ignored_by: str | None = None


@dataclass(frozen=True)
class Continuation:
    """How an assistant message is continued (``forced:N``).

    mechanism: ``continue_final_message`` (vLLM/SGLang request fields), ``prefill`` (a
    trailing assistant message is continued), ``prefix`` (DeepSeek's beta prefix
    completion, reasoning passed in ``reasoning_content``), ``completions`` (the
    completions endpoint with the model's own chat template, rendered here).
    """

    mechanism: str
    fields: dict = field(default_factory=dict)  # extra request fields for the continuation
    # The server can continue *inside* an open thinking block (needed by ``min=M``).
    open_thinking: bool = False
    # Path replacing the base URL's path for continuation requests (DeepSeek: /beta).
    path: str | None = None


@dataclass(frozen=True)
class ModelRule:
    """Overrides for models whose id matches ``pattern`` (first match wins)."""

    pattern: str
    changes: dict


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    aliases: tuple[str, ...] = ()
    # ---- detection and preflight
    hosts: tuple[str, ...] = ()  # hosted API: host names of its base URL
    owned_by: tuple[str, ...] = ()  # self-hosted: the /models owned_by value it reports
    default_base_url: str | None = None
    models_path: str = "/models"
    models_params: tuple[tuple[str, str], ...] = ()  # query of the preflight's model list
    auth: str = "bearer"  # bearer | x-api-key
    preflight_headers: tuple[tuple[str, str], ...] = ()
    checks_model: bool = True  # the server refuses names it does not serve (so the preflight checks)
    # Where the server reports its own version (a path on its origin) and the JSON field.
    version_path: str | None = None
    version_field: str = "version"
    # ---- request
    token_cap: str = "max_tokens"
    sampling: frozenset[str] = frozenset({"temperature", "top_p"})
    exclusive_sampling: bool = False  # temperature and top_p may not both be set
    sampling_note: str | None = None  # accepted but documented to have no effect (warning)
    default_temperature: str = "the server's default"
    efforts: tuple[str, ...] = ()  # () = reasoning_effort not supported
    effort_note: str | None = None  # why effort levels change nothing here (warning)
    thinking: Thinking | None = None
    effort_fields: dict = field(default_factory=dict)  # sent with every effort:LEVEL request
    # Sampling values allowed together with thinking:N (parameter -> (low, high)).
    thinking_sampling: dict = field(default_factory=dict)
    n: str = "yes"  # yes | no (refused: single requests) | ignored (one choice comes back)
    n_max: int | None = None  # the most choices one request may ask for
    seed: bool = True
    seed_with_n: bool = True  # False: every choice of an n request gets the same seed
    # ---- response
    reasoning: str = "visible"  # visible (a field or <think> tags) | hidden | summary
    thought_tags: tuple[str, str] | None = None  # summaries inline in content (Gemini)
    reasoning_tokens_at: str | None = None  # details | usage | total (= total - prompt - completion)
    completion_includes_reasoning: bool = True
    # ---- budget forcing
    continuation: Continuation | None = None
    model_rules: tuple[ModelRule, ...] = ()

    @property
    def hides_reasoning(self) -> bool:
        return self.reasoning in ("hidden", "summary")


# OpenAI reasoning models accept only the default sampling values, so none is sent.
_OPENAI_REASONING: frozenset[str] = frozenset()

def _gemini_thinking(minimum: int, maximum: int) -> Thinking:
    # The compatibility layer reads Google fields from a literal "extra_body" key; the
    # valid range depends on the model.
    fields = {"extra_body": {"google": {"thinking_config": {"thinking_budget": BUDGET, "include_thoughts": True}}}}
    return Thinking(fields, minimum=minimum, maximum=maximum)


PROFILES: tuple[Profile, ...] = (
    Profile(
        name="openai",
        title="OpenAI",
        hosts=("api.openai.com",),
        owned_by=("system", "openai", "openai-internal"),
        default_base_url="https://api.openai.com/v1",
        token_cap="max_completion_tokens",
        default_temperature="1 (OpenAI's default)",
        reasoning_tokens_at="details",
        model_rules=(
            # Chat models (gpt-4o, gpt-4.1, gpt-3.5, *-chat-latest): sampling accepted, no
            # reasoning_effort ("Unrecognized request argument supplied: reasoning_effort").
            ModelRule(r"^(gpt-(3\.5|4)|chatgpt-)", {}),
            ModelRule(r"^gpt-5(\.\d+)?-chat", {"efforts": ("medium",), "reasoning": "hidden"}),
            ModelRule(r"^gpt-5(\.\d+)?-pro", {"sampling": _OPENAI_REASONING, "efforts": ("high",), "reasoning": "hidden"}),
            ModelRule(r"^o\d", {"sampling": _OPENAI_REASONING, "efforts": ("low", "medium", "high"), "reasoning": "hidden"}),
            ModelRule(r"^gpt-5(-mini|-nano)?($|-\d)", {"sampling": _OPENAI_REASONING, "efforts": ("minimal", "low", "medium", "high"), "reasoning": "hidden"}),
            ModelRule(r"^gpt-5\.1", {"sampling": _OPENAI_REASONING, "efforts": ("none", "low", "medium", "high"), "reasoning": "hidden"}),
            ModelRule(r"^gpt-5", {"sampling": _OPENAI_REASONING, "efforts": ("none", "low", "medium", "high", "xhigh"), "reasoning": "hidden"}),
        ),
    ),
    Profile(
        name="anthropic",
        title="Anthropic (OpenAI SDK compatibility)",
        aliases=("anthropic-compat",),
        hosts=("api.anthropic.com",),
        default_base_url="https://api.anthropic.com/v1",
        auth="x-api-key",
        preflight_headers=(("anthropic-version", "2023-06-01"),),
        models_params=(("limit", "1000"),),  # the Models API pages 20 at a time by default
        default_temperature="1 (Anthropic's default)",
        exclusive_sampling=True,
        thinking=Thinking({"thinking": {"type": "enabled", "budget_tokens": BUDGET}}, minimum=1024),
        thinking_sampling={"temperature": (1.0, 1.0), "top_p": (0.95, 1.0)},
        n="no",
        seed=False,  # ignored by the compatibility layer: sending it would claim reproducibility
        reasoning="hidden",
        model_rules=(
            ModelRule(r"^claude-3", {"exclusive_sampling": False}),
            # Opus 4.7 and later refuse thinking.type "enabled" and non-default sampling.
            ModelRule(r"^claude-(opus-4-[7-9]|sonnet-5|opus-5)", {"thinking": None, "sampling": frozenset()}),
        ),
    ),
    Profile(
        name="gemini",
        title="Gemini (OpenAI compatibility)",
        aliases=("gemini-compat",),
        hosts=("generativelanguage.googleapis.com",),
        owned_by=("google",),
        default_base_url="https://generativelanguage.googleapis.com/v1beta/openai",
        default_temperature="1 (Gemini's default)",
        efforts=("none", "low", "medium", "high"),
        effort_fields={"extra_body": {"google": {"thinking_config": {"include_thoughts": True}}}},
        thinking=_gemini_thinking(0, 24576),
        n_max=8,  # candidateCount 1..8
        reasoning="summary",
        thought_tags=("<thought>", "</thought>"),
        reasoning_tokens_at="total",
        completion_includes_reasoning=False,
        model_rules=(
            ModelRule(r"^(models/)?gemini-2\.5-pro", {"efforts": ("low", "medium", "high"), "thinking": _gemini_thinking(128, 32768)}),
            ModelRule(r"^(models/)?gemini-2\.5-flash-lite", {"thinking": _gemini_thinking(512, 24576)}),
            ModelRule(r"^(models/)?gemini-3(\.\d+)?-pro", {"n": "no", "efforts": ("low", "high")}),
            ModelRule(r"^(models/)?gemini-3", {"n": "no"}),
        ),
    ),
    Profile(
        name="deepseek",
        title="DeepSeek",
        hosts=("api.deepseek.com",),
        owned_by=("deepseek",),
        default_base_url="https://api.deepseek.com",
        default_temperature="DeepSeek's default (ignored in thinking mode)",
        sampling_note="DeepSeek ignores temperature in thinking mode, and top_p outside 0.95-1",
        efforts=("none", "low", "high", "max"),
        n="no",
        seed=False,  # not documented (unknown fields are dropped)
        reasoning_tokens_at="details",
        continuation=Continuation("prefix", path="/beta"),
    ),
    Profile(
        name="vllm",
        title="vLLM",
        owned_by=("vllm",),
        version_path="/version",
        default_temperature="the model's generation_config (vLLM)",
        efforts=ALL_EFFORTS,
        effort_note=(
            "vLLM hands reasoning_effort to the chat template, and the Qwen3 and DeepSeek-R1 templates ignore it "
            "(only 'none' turns Qwen3's thinking off)"
        ),
        thinking=Thinking(
            {"thinking_token_budget": BUDGET, "chat_template_kwargs": {"enable_thinking": True}},
            minimum=0, ignored_by="vLLM releases before 0.19 (they drop thinking_token_budget silently)",
        ),
        reasoning_tokens_at="details",
        continuation=Continuation(
            "continue_final_message",
            # enable_thinking false makes vLLM's qwen3 parser file the continued answer as
            # content; other parsers file it under reasoning, which the reader handles.
            fields={"continue_final_message": True, "add_generation_prompt": False,
                    "chat_template_kwargs": {"enable_thinking": False}},
        ),
    ),
    Profile(
        name="sglang",
        title="SGLang",
        owned_by=("sglang",),
        version_path="/version",
        checks_model=False,  # any model name is accepted and echoed
        default_temperature="the model's generation_config (SGLang)",
        efforts=ALL_EFFORTS,
        effort_note=(
            "SGLang only turns thinking on or off from reasoning_effort ('none' = off); the Qwen3 and "
            "DeepSeek-R1 templates ignore the level"
        ),
        seed_with_n=False,
        reasoning_tokens_at="usage",
        continuation=Continuation("continue_final_message", fields={"continue_final_message": True}, open_thinking=True),
    ),
    Profile(
        name="llama-server",
        title="llama.cpp server",
        aliases=("llama.cpp", "llamacpp"),
        owned_by=("llamacpp",),
        version_path="/props",
        version_field="build_info",
        checks_model=False,  # one model; the request's name is echoed, never checked
        default_temperature="0.8 (llama-server's default)",
        seed_with_n=False,  # every choice of an n request shares the seed
        thinking=Thinking(
            {"reasoning_budget_tokens": BUDGET, "thinking_budget_tokens": BUDGET}, minimum=0,
            ignored_by="llama-server builds before May 2026 (no per-request reasoning budget)",
        ),
        # Prefill is refused while thinking is on; with it off the template closes an
        # empty think block first, so an open block cannot be continued.
        continuation=Continuation("prefill", fields={"chat_template_kwargs": {"enable_thinking": False}}),
    ),
    Profile(
        name="ollama",
        title="Ollama",
        owned_by=("library",),
        version_path="/api/version",
        default_temperature="1 (Ollama's OpenAI endpoint default)",
        efforts=("none", "low", "medium", "high", "max"),
        effort_note="Ollama turns thinking on or off from reasoning_effort; Qwen3-style models ignore the level",
        n="ignored",
        continuation=Continuation("prefill", open_thinking=True),
    ),
    Profile(
        name="llama-cpp-python",
        title="llama-cpp-python server (the embedded model)",
        owned_by=("me",),
        checks_model=False,
        default_temperature="0.8 (llama-cpp-python's default)",
        n="ignored",
        continuation=Continuation("completions", open_thinking=True),
    ),
    Profile(
        name="generic",
        title="an OpenAI-compatible server",
        checks_model=False,
        n="yes",
        # Most self-hosted servers continue a trailing assistant message (llama.cpp,
        # Ollama); `ttc-bench probe` shows whether this one does.
        continuation=Continuation("prefill", open_thinking=True),
    ),
)

BY_NAME: dict[str, Profile] = {}
for _profile in PROFILES:
    for _name in (_profile.name, *_profile.aliases):
        BY_NAME[_name] = _profile

PROFILE_CHOICES = ("auto", *sorted(p.name for p in PROFILES), *sorted(a for p in PROFILES for a in p.aliases))


def get_profile(name: str) -> Profile:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UserError(f"unknown --api {name!r}; choose one of {', '.join(PROFILE_CHOICES)}") from None


def resolve(profile: Profile, model: str | None) -> Profile:
    """The profile with the first model rule matching ``model`` applied."""
    for rule in profile.model_rules:
        if model and re.search(rule.pattern, model):
            return replace(profile, **rule.changes)
    return profile


def from_host(base_url: str) -> Profile | None:
    """The hosted API a base URL points at, if it is one."""
    host = (urlsplit(base_url).hostname or "").lower()
    for profile in PROFILES:
        if any(host == h or host.endswith("." + h) for h in profile.hosts):
            return profile
    return None


def from_owned_by(values: list[str]) -> Profile | None:
    """The self-hosted server a /models answer names in owned_by, if any."""
    for profile in PROFILES:
        if any(value in profile.owned_by for value in values):
            return profile
    return None
