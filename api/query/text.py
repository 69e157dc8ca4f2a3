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
`\b` is Unicode-aware and which rejects `(*UCP)`. So each match asks the server which it speaks,
on a constant: where `\bber\b` matches "über", the pattern carries `(*UCP)`; elsewhere it is
plain. No dialect travels with the request and none is guessed from the server's name; the
embedded engine never evaluates the branch it does not take.
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


_ASCII_WORD_BOUNDARIES = {"$regexMatch": {"input": {"$literal": "über"}, "regex": r"\bber\b"}}
"""True on a server whose `\b` takes "ü" for a non-word character (PCRE without UCP)."""


def _matches(value: Any, word: str) -> dict[str, Any]:
    """`value` (a string, or null: no match) holds `word` as a whole word, ignoring case."""
    pattern = rf"\b{re.escape(word)}\b"
    return {
        "$cond": [
            _ASCII_WORD_BOUNDARIES,
            {"$regexMatch": {"input": value, "regex": "(*UCP)" + pattern, "options": "i"}},
            {"$regexMatch": {"input": value, "regex": pattern, "options": "i"}},
        ]
    }


def _elements(path: str) -> dict[str, Any]:
    return {"$ifNull": [f"${path}", []]}


def native_filter(q: str) -> dict[str, Any]:
    return {"$text": {"$search": " ".join(words(q))}}


def native_score() -> dict[str, Any]:
    return {"$meta": "textScore"}


def fallback_filter(q: str, index: TextIndex) -> dict[str, Any]:
    """Any word, as a whole word and ignoring case, in any indexed field (any tag of arrays)."""
    matches: list[Any] = []
    for word in words(q):
        for path in index.weights:
            if path in index.array_fields:
                each = {"$map": {"input": _elements(path), "in": _matches("$$this", word)}}
                matches.append({"$anyElementTrue": [each]})
            else:
                matches.append(_matches(f"${path}", word))
    return {"$expr": {"$or": matches}}


def fallback_score(q: str, index: TextIndex) -> dict[str, Any]:
    """Over words and fields, the weight of each field the word appears in (per tag in arrays)."""
    terms: list[Any] = []
    for word in words(q):
        for path, weight in index.weights.items():
            if path in index.array_fields:
                matching = {"$filter": {"input": _elements(path), "cond": _matches("$$this", word)}}
                terms.append({"$multiply": [weight, {"$size": matching}]})
            else:
                terms.append({"$cond": [_matches(f"${path}", word), weight, 0]})
    return {"$add": terms}
