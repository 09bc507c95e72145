"""A budget and the user's sampling settings, through a provider profile, into request fields.

:func:`check_plan` runs before any request: it refuses what the profile documents as
refused (one line saying why and what to do) and returns warnings for what the profile
documents as having no effect. :func:`request_fields` builds the JSON fields (everything
but ``model``, ``messages``, ``seed`` and ``n``) of the first request of a sample; the
same dict is what the resume key and the manifest record, so they describe exactly what
is sent.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import UserError
from ..budgets import Budget
from .profiles import BUDGET, Profile

# Room left for the visible answer when a thinking budget caps only the reasoning.
THINKING_ANSWER_ALLOWANCE = 1024
SAMPLING_FLAGS = {"temperature": "--temperature", "top_p": "--top-p"}


def merge(base: dict, extra: dict) -> dict:
    """``base`` updated with ``extra``, nested dicts merged rather than replaced."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _fill(template: Any, tokens: int) -> Any:
    if template == BUDGET:
        return tokens
    if isinstance(template, dict):
        return {k: _fill(v, tokens) for k, v in template.items()}
    return template


def budget_fields(profile: Profile, budget: Budget, answer_tokens: int) -> dict:
    """The fields that implement ``budget`` on the first request of a sample."""
    if budget.kind in ("tokens", "forced"):
        return {profile.token_cap: budget.tokens}
    if budget.kind == "effort":
        return merge({"reasoning_effort": budget.effort}, profile.effort_fields)
    assert profile.thinking is not None  # check_plan refused it otherwise
    fields = _fill(profile.thinking.fields, budget.tokens)
    if profile.thinking.raise_cap:
        fields[profile.token_cap] = budget.tokens + max(answer_tokens, THINKING_ANSWER_ALLOWANCE)
    return fields


def sampling_fields(sampling: dict) -> dict:
    """The sampling values the user or the suite set (None: not set, so not sent)."""
    return {k: v for k, v in sampling.items() if v is not None}


def request_fields(profile: Profile, budget: Budget, sampling: dict, answer_tokens: int) -> dict:
    return {**sampling_fields(sampling), **budget_fields(profile, budget, answer_tokens)}


# ---- plan-time checks ------------------------------------------------------------------------


def _where(profile: Profile, model: str | None) -> str:
    return f"{profile.title} ({model})" if model else profile.title


def check_budget(profile: Profile, budget: Budget, model: str | None = None, *, chat_template: bool = True) -> list[str]:
    """Refuse a budget the profile cannot honour; return warnings about ones it may ignore."""
    where = _where(profile, model)
    warnings = []
    if budget.kind == "effort":
        if not profile.efforts:
            raise UserError(
                f"budget {budget.label}: {where} takes no reasoning_effort; "
                f"use {'thinking:N' if profile.thinking else 'tokens:N'} instead (see docs/providers.md)"
            )
        if budget.effort not in profile.efforts:
            raise UserError(
                f"budget {budget.label}: {where} accepts effort levels {', '.join(profile.efforts)}"
            )
        if profile.effort_note:
            warnings.append(f"{budget.label}: {profile.effort_note}; effort levels may all measure the same thing")
    elif budget.kind == "thinking":
        spec = profile.thinking
        if spec is None:
            # Where effort levels are documented no-ops, forcing is what works.
            if profile.continuation and not profile.hides_reasoning:
                alternative = "forced:N"
            else:
                alternative = "effort:LEVEL" if profile.efforts else "tokens:N"
            raise UserError(f"budget {budget.label}: {where} has no per-request thinking budget; use {alternative} instead")
        if budget.tokens < spec.minimum or (spec.maximum is not None and budget.tokens > spec.maximum):
            top = f"{spec.maximum:,}" if spec.maximum is not None else "no limit"
            raise UserError(f"budget {budget.label}: {where} takes thinking budgets from {spec.minimum:,} to {top}")
        if spec.ignored_by:
            warnings.append(f"{budget.label}: {spec.ignored_by}; `ttc-bench probe` checks this server")
    elif budget.kind == "forced":
        if profile.hides_reasoning:
            alternative = "effort:LEVEL" if profile.efforts else "thinking:N" if profile.thinking else "tokens:N"
            raise UserError(
                f"budget {budget.label}: {where} hides the model's reasoning, so it cannot be continued; "
                f"use {alternative} to set the reasoning budget"
            )
        if profile.continuation is None:
            raise UserError(
                f"budget {budget.label}: {where} cannot continue an assistant message; use tokens:N"
                + (" or thinking:N" if profile.thinking else "")
            )
        if profile.continuation.mechanism == "completions" and not chat_template:
            raise UserError(
                f"budget {budget.label}: continuing on {where} needs the model's chat template; pass --gguf "
                "with the GGUF file the server serves (or run without --base-url to use the embedded model)"
            )
        if budget.min_tokens and not profile.continuation.open_thinking:
            raise UserError(
                f"budget {budget.label}: {where} cannot continue an open thinking block (its chat template "
                "closes it), so min= cannot make the model keep thinking; drop :min="
            )
    return warnings


def check_sampling(profile: Profile, sampling: dict, budgets: list[Budget], model: str | None = None) -> list[str]:
    """Refuse sampling values the profile rejects; return warnings for ones it ignores."""
    where = _where(profile, model)
    chosen = sampling_fields(sampling)
    for key in chosen:
        if key not in profile.sampling:
            raise UserError(
                f"{where} does not accept {key} (only its default); drop {SAMPLING_FLAGS.get(key, key)} "
                f"and the suite's {key}"
            )
    if profile.exclusive_sampling and len(chosen) > 1:
        raise UserError(f"{where} accepts temperature or top_p, not both; drop one of --temperature/--top-p")
    if any(b.kind == "thinking" for b in budgets):
        for key, value in chosen.items():
            allowed = profile.thinking_sampling.get(key)
            if allowed is not None and not allowed[0] <= value <= allowed[1]:
                low, high = allowed
                span = f"{low:g}" if low == high else f"{low:g} to {high:g}"
                raise UserError(f"{where} with a thinking budget needs {key} {span} (or unset); got {value:g}")
    if chosen and profile.sampling_note:
        return [profile.sampling_note]
    return []


def check_plan(
    profile: Profile, budgets: list[Budget], sampling: dict, model: str | None, *, n_parameter: bool = False,
    chat_template: bool = True,
) -> list[str]:
    """Everything refused before any request; returns plan-time warnings (one line each)."""
    warnings = check_sampling(profile, sampling, budgets, model)
    for budget in budgets:
        warnings += check_budget(profile, budget, model, chat_template=chat_template)
    if n_parameter and profile.n != "yes":
        what = "refuses n" if profile.n == "no" else "ignores n (one choice comes back)"
        warnings.append(f"--n-param: {profile.title} {what}; each sample is sent as its own request")
    return warnings
