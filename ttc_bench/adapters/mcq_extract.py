"""Multiple-choice answer extraction: which shown option a reply chooses.

On the output's tail, in linear time, letters outside the item's range never counting, the
first rule that applies:
  1. the last ``Answer: X`` ("**Answer:** (b).", "Final answer: \\boxed{B}"); a letter out of
     range there means None: the model committed to no valid option. If no letter follows
     it but the line's text equals one option's text (``Answer: 1,483,492``), that option;
  2. the last ``answer is X`` ("The correct answer is (C)");
  3. the last ``\\boxed{X}`` / ``\\boxed{\\text{X}}`` (or a boxed option text);
  4. the last capital letter in parentheses ``(C)`` or alone on a line (``**C**``, ``C.``).
A bare "a"/"I" followed by a word ("Answer: I think...", "the answer is a bit...") is
English, not a choice. Step 4 never reads mid-sentence capitals (the article "A").
"""

from __future__ import annotations

import re

from .extract import tail
from .mcq_columns import LETTERS

# Every search runs on a bounded tail; letter checks look at an 80-character window after a
# marker, so the one repeated group below never sees more than 80 characters.

_ANSWER_COLON = re.compile(r"answer[*_ \t]{0,4}[:：]", re.IGNORECASE)
_ANSWER_IS = re.compile(r"answer\s{1,3}is\b", re.IGNORECASE)
_BOXED = "\\boxed{"
_LEAD = re.compile(r"(?:[\s*_`$(\[{:]|\\(?:boxed|text|textbf|mathbf|mathrm)\{|option\b|choice\b)*", re.IGNORECASE)
_LETTER = re.compile(r"([A-Za-z])(?![A-Za-z0-9'’])")
_WORD_FOLLOWS = re.compile(r"[ \t]+[A-Za-z]")
_PAREN_LETTER = re.compile(r"\(([A-Z])\)")
_LINE_LETTER = re.compile(r"^[ \t*_`$(\[]*([A-Z])[ \t*_`$)\].:]*$", re.MULTILINE)
_WINDOW = 80


def _letter_after(text: str, start: int) -> str | None:
    """The choice letter right after a marker ("Answer:", "answer is"), or None."""
    window = text[start : start + _WINDOW]
    rest = window[_LEAD.match(window).end() :]
    match = _LETTER.match(rest)
    if not match:
        return None
    letter = match.group(1)
    if letter in "aAiI" and _WORD_FOLLOWS.match(rest, 1):
        return None  # "a bit", "I think": a word, not a choice
    return letter.upper()


def _normalize(text: str) -> str:
    """Option text as compared with a model's words: no markup, case, commas or spaces."""
    text = text.replace("\\boxed{", "").replace("\\text{", "")
    text = re.sub(r"[\s$*`{},]", "", text.lower())
    return text.rstrip(".")


def _option_named(text: str, options: list[str]) -> int | None:
    """The shown position of the option whose text ``text`` is, if exactly one matches."""
    wanted = _normalize(text)
    hits = [i for i, option in enumerate(options) if wanted and _normalize(option) == wanted]
    return hits[0] if len(hits) == 1 else None


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = None
    for match in pattern.finditer(text):
        last = match
    return last


def _boxed_content(text: str, start: int) -> str:
    end = text.find("}", start)
    # "\boxed{\text{B}}": the first "}" closes \text; the content is what matters anyway.
    return text[start : end if end >= 0 else start + _WINDOW][:_WINDOW]


def shown_choice(text: str, options: list[str]) -> int | None:
    """The shown position (0 = A) a response chooses among ``options``, or None."""
    text = tail(text)
    valid = LETTERS[: len(options)]

    def position(letter: str | None) -> int | None:
        return valid.index(letter) if letter and letter in valid else None

    marker = _last(_ANSWER_COLON, text)
    if marker:
        letter = _letter_after(text, marker.end())
        if letter:
            return position(letter)  # committed to a letter: out of range means no valid answer
        line = text[marker.end() :].lstrip().split("\n", 1)[0][:_WINDOW * 4]
        named = _option_named(line, options)
        if named is not None:
            return named
    marker = _last(_ANSWER_IS, text)
    if marker and position(_letter_after(text, marker.end())) is not None:
        return position(_letter_after(text, marker.end()))
    boxed = text.rfind(_BOXED)
    if boxed >= 0:
        found = position(_letter_after(text, boxed))
        if found is None:
            found = _option_named(_boxed_content(text, boxed + len(_BOXED)), options)
        if found is not None:
            return found
    return _standalone(text, valid)


def _standalone(text: str, valid: str) -> int | None:
    """The last "(C)" or line holding only a letter: the few clear places a bare letter is a choice."""
    best_at, best = -1, None
    for pattern in (_PAREN_LETTER, _LINE_LETTER):
        for match in pattern.finditer(text):
            if match.group(1) in valid and match.start() > best_at:
                best_at, best = match.start(), valid.index(match.group(1))
    return best
