"""Alternative readings marked inside one sentence with ``/`` (Ding's convention).

Ding writes alternatives as ``torn/ripped``, ``maintained / protested`` or whole
clauses (``I think so. / I believe so.``). ``readings`` resolves them: reading 0
keeps every first alternative (the clean reference reading), reading ``k`` the
``k``-th where there is one. Clause alternatives only yield reading 0.

Example:
    >>> readings("she maintained / protested.")
    ['she maintained.', 'she protested.']
"""

from __future__ import annotations

import re

LEADING = re.compile(r"^[\"'„“‘«(]+")
TRAILING = re.compile(r"[.,;:!?\"'“”’»)]+$")
CLAUSE_END = re.compile(r"[.!?][\"'“”’»)]*$")


def _split_token(token: str) -> list[str]:
    """``get/receive`` -> ``["get", "receive"]``; tokens without an inner slash stay whole."""
    lead = LEADING.match(token)
    trail = TRAILING.search(token)
    start, end = lead.end() if lead else 0, trail.start() if trail else len(token)
    core = token[start:end]
    if "/" not in core or core.startswith("/") or core.endswith("/"):
        return [token]
    return [token[:start] + part + token[end:] for part in core.split("/") if part]


def _with_shared_punctuation(alternatives: list[str]) -> list[str]:
    """Gives every alternative the first one's leading and the last one's trailing marks."""
    if len(alternatives) == 1:
        return alternatives
    lead = LEADING.match(alternatives[0])
    trail = TRAILING.search(alternatives[-1])
    lead, trail = lead.group() if lead else "", trail.group() if trail else ""
    return [lead + TRAILING.sub("", LEADING.sub("", a)) + trail for a in alternatives]


def _trailing(token: str) -> str:
    match = TRAILING.search(token)
    return match.group() if match else ""


def _phrase_end(tokens: list[str], start: int) -> int:
    """Index of the token that ends the phrase beginning at ``start``."""
    index = start
    while index < len(tokens) - 1 and not TRAILING.search(tokens[index]):
        index += 1
    return index


def readings(text: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` readings of ``text``; ``[text]`` when it has no alternatives."""
    if "/" not in text:
        return [text]
    tokens = text.split()
    slots: list[list[str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "/" and slots and index + 1 < len(tokens):
            end = _phrase_end(tokens, index + 1)
            before = TRAILING.sub("", slots[-1][-1])
            if CLAUSE_END.search(slots[-1][-1]) or before in (
                TRAILING.sub("", t) for t in tokens[index + 2 : end + 1]
            ):
                # A clause, or a phrase that repeats the word before the slash
                # ("later / at a later time"): keep the first, drop the alternative.
                if not CLAUSE_END.search(slots[-1][-1]):
                    slots[-1][-1] = TRAILING.sub("", slots[-1][-1]) + _trailing(tokens[end])
                index = end + 1
            else:  # one word against one word: "maintained / protested"
                slots[-1].append(tokens[index + 1])
                index += 2
            continue
        slots.append(_split_token(token))
        index += 1
    slots = [_with_shared_punctuation(s) for s in slots]
    count = min(max(len(s) for s in slots), limit)
    return [" ".join(s[min(k, len(s) - 1)] for s in slots) for k in range(count)]


def first_reading(text: str) -> str:
    """The reading that keeps every first alternative."""
    return readings(text, limit=1)[0]
