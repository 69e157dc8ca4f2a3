r"""Full-text search (`q`): MongoDB's `$text` where the deployment has it, a fallback elsewhere.

This is the one place the two differ. Both paths take the same plain words and match a document
when any word appears, as a whole word and ignoring case, in one of the indexed fields; both rank
by relevance with the text index's weights. `$text` also stems words, skips stop words and ignores
diacritics (`uber` finds "über"), which the fallback does not: for plain words the matches are the
same.

Whole words are words of any script ("über" is not found in "Überblick", "ber" not in "über").
The fallback's regular expressions run wherever the fallback does, and regex dialects disagree on
what a word is: MongoDB compiles patterns with PCRE2 in UTF mode without its UCP option, so `\b`
and `\w` know only ASCII letters (`\bber\b` matches "über", `\büber\b` never matches), unless
the pattern starts with `(*UCP)`; the embedded engine evaluates them with Python's `re`, whose
`\b` is Unicode-aware and which rejects `(*UCP)`. The capability probe asks the server once which
it speaks (`Capabilities.ascii_word_boundaries`: does `\bber\b` match "über"?), and the patterns
carry `(*UCP)` where it does: plain `$regex` filters, which every engine evaluates cheaply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_WORDS = 16
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class TextIndex:
    """The fields a resource's text index covers and their weights (as the migration sets them)."""

    weights: Mapping[str, int]
    array_fields: frozenset[str] = field(default_factory=frozenset)


def words(q: str) -> list[str]:
    """The plain words of a query, in order, without repeats (at most `MAX_WORDS`)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(q):
        seen.setdefault(word.lower(), None)
    return list(seen)[:MAX_WORDS]


def _pattern(word: str, *, ucp: bool) -> str:
    r"""`word` as a whole word; `ucp`: the server's `\b` is ASCII-only unless told otherwise."""
    return ("(*UCP)" if ucp else "") + rf"\b{re.escape(word)}\b"


def native_filter(q: str) -> dict[str, Any]:
    return {"$text": {"$search": " ".join(words(q))}}


def native_score() -> dict[str, Any]:
    return {"$meta": "textScore"}


def fallback_filter(q: str, index: TextIndex, *, ucp: bool) -> dict[str, Any]:
    """Any word, as a whole word and ignoring case, in any indexed field (any tag of arrays)."""
    return {
        "$or": [
            {path: {"$regex": _pattern(word, ucp=ucp), "$options": "i"}}
            for word in words(q)
            for path in index.weights
        ]
    }


def fallback_score(q: str, index: TextIndex, *, ucp: bool) -> dict[str, Any]:
    """Over words and fields, the weight of each field the word appears in (per tag in arrays)."""
    terms: list[Any] = []
    for word in words(q):
        regex = {"regex": _pattern(word, ucp=ucp), "options": "i"}
        for path, weight in index.weights.items():
            if path in index.array_fields:
                matching = {
                    "$filter": {
                        "input": {"$ifNull": [f"${path}", []]},
                        "cond": {"$regexMatch": {"input": "$$this", **regex}},
                    }
                }
                terms.append({"$multiply": [weight, {"$size": matching}]})
            else:
                matched = {"$regexMatch": {"input": {"$ifNull": [f"${path}", ""]}, **regex}}
                terms.append({"$cond": [matched, weight, 0]})
    # `$add` of one term is refused by some engines (the embedded one wants two or more).
    return terms[0] if len(terms) == 1 else {"$add": terms}
