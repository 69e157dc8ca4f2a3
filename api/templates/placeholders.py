"""`{{name}}` placeholders in template steps: finding them and filling them in.

A placeholder is `{{`, a parameter name, `}}`, with optional spaces or tabs inside the braces
(`{{ url }}`). Anything else between double braces (`{{ user.name }}`, `{{1}}`) is not a
placeholder and stays literal text. Filling in is plain text replacement in one pass: nothing is
evaluated, and a value that itself contains `{{x}}` is inserted as it is, never expanded again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PARAMETER_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
"""What a parameter may be called; only such names form placeholders."""

_PLACEHOLDER = re.compile(r"\{\{[ \t]*(" + PARAMETER_NAME + r")[ \t]*\}\}")

TEMPLATED_FIELDS = ("selector", "value", "description", "expected")
"""The step fields that may hold placeholders."""


def placeholders(text: str | None) -> list[str]:
    """The parameter names `text` refers to, each once, in order of first appearance."""
    if not text:
        return []
    return list(dict.fromkeys(match[1] for match in _PLACEHOLDER.finditer(text)))


def substitute(text: str | None, values: Mapping[str, str]) -> str | None:
    """`text` with every placeholder named in `values` replaced by its value.

    A placeholder whose name `values` lacks is left as written: templates are checked on write so
    that every placeholder names a declared parameter, and instantiation supplies them all.
    """
    if text is None:
        return None
    return _PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), text)
