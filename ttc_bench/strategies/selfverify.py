"""selfverify: the model judges each distinct answer among an item's samples, and the vote
counts only the answers it judged correct (else every answer).

For each item at each budget, every distinct parsed answer of its n samples (a candidate)
is sent back to the same model, at the same budget, with the problem as the model saw it
and the question whether the candidate is correct (:func:`judge_messages`). The verdict
is read from the reply (:func:`parse_verdict`: yes, no, or none). The strategy's answer is
the majority vote over the samples whose answer was judged correct; when none was, the
majority vote of all n samples (ties split the credit, as maj@k). Its cost is the n
samples' tokens plus every judging request's tokens. Judging is a request per candidate,
so this is one point per budget, at k = n (docs/strategies.md).

The premise is the asymmetry of verification: where checking an answer is easier than
finding it, a model may recognise a right answer it does not reliably produce (the
verification step of Snell et al. 2024, arXiv 2408.03314, with the model as its own
verifier instead of a trained one).
"""

from __future__ import annotations

import re

from .registry import Strategy, register

SELFVERIFY = register(
    Strategy("selfverify", "the model judges each distinct answer; majority vote over those judged correct", "requests")
)
# Budget forcing ends a cut-off judgement with this cue; the verdict needs a few tokens.
JUDGE_CUE = "Time is up, so here is my verdict: <answer>"
JUDGE_TOKENS = 8
_TAGGED = re.compile(r"<answer>\s*(yes|no)\b", re.IGNORECASE)
_WORD = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def judge_messages(problem: list[dict], shown_answer: str) -> list[dict]:
    """The judging request: the problem as the model saw it, a proposed answer written as
    the problem asks for it, and the question."""
    text = "\n\n".join(m["content"] for m in problem if m.get("role") in ("system", "user"))
    return [{
        "role": "user",
        "content": (
            "Here is a problem and a proposed answer to it.\n\n"
            f"Problem:\n{text}\n\n"
            f"Proposed answer:\n<answer>\n{shown_answer}\n</answer>\n\n"
            "Is the proposed answer correct? Check it carefully against the problem, then "
            "give your verdict as <answer>yes</answer> or <answer>no</answer>."
        ),
    }]  # fmt: skip


def parse_verdict(text: str) -> bool | None:
    """yes -> True, no -> False: the last tagged verdict, else the last bare yes or no;
    None when the reply holds neither."""
    found = _TAGGED.findall(text or "") or _WORD.findall(text or "")
    return None if not found else found[-1].lower() == "yes"
