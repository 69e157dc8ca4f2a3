"""Error signatures: one normalised line per kind of failure, so that equal failures group together.

`signature(message, type)` keeps the first non-blank line of a failure message (the rest is
usually a stack or a log) and replaces what changes from one occurrence of a failure to the next,
in this order (each step only sees what the earlier ones left, so they do not interfere):

1. terminal colour codes are removed (Playwright colours its assertion messages);
2. UUIDs -> `<uuid>`;
3. timestamps, dates and times (ISO 8601, `2024/05/01`, `01/05/2024`, `12:34:56.789`, HTTP
   dates) -> `<ts>`;
4. hexadecimal: `0x...` literals, and runs of 8 or more hex digits with at least one digit and
   one letter (ObjectIds, session ids, commit hashes) -> `<hex>`;
5. quoted values ('...', "...", `...`, “...”) -> `<str>`;
6. URLs (`scheme://...`), the whole of them -> `<url>`;
7. file paths, unix (absolute, `./`, `../`, `~/`, or relative with a file extension such as
   `tests/test_login.py`) and windows (`C:\\...`, `\\\\server\\share`), with an optional
   `:line:col` -> `<path>`;
8. the remaining numbers (integers, decimals, grouped `1,234`, versions `124.0.6367.91`), which
   keep their unit: `Timeout 30000ms exceeded` -> `Timeout <n>ms exceeded`;
9. whitespace collapsed and trimmed, the type prefixed (`TimeoutError: ...`) unless the message
   already starts with it, and the result cut at `MAX_SIGNATURE_LENGTH` characters.

Trade-offs, on purpose:

- Quoted values are replaced, so `element 'Login' not found` and `element 'Submit' not found`
  share a signature: a selector or a value in quotes is what differs between occurrences of one
  kind of failure far more often than it tells two kinds apart.
- A URL is replaced whole, host included: the same failure against two environments (or against
  preview hosts and random ports) is one failure; the environment is recorded on the run.
- Digits inside a word that starts with a letter or `_` stay (`h1`, `utf8`, `test_42`), so
  identifiers are not blurred; a number after a separator does not (`#item-42` -> `#item-<n>`).

The function is pure and deterministic: the same message and type always give the same signature,
never an empty one (`<empty>` when there is neither a message nor a type).
"""

from __future__ import annotations

import re

MAX_SIGNATURE_LENGTH = 200
"""A signature is indexed (failures are grouped by it): keep its entries small."""

EMPTY_SIGNATURE = "<empty>"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)

_TIME = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[AaPp][Mm]\b)?"
_ZONE = r"(?:\s?(?:Z\b|UTC\b|GMT\b|[+-]\d{2}:?\d{2}\b))?"
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DAYS = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_TIMESTAMP = re.compile(
    "|".join(
        (
            # 2024-05-01, 2024-05-01T12:34:56.789+02:00, 2024/05/01 12:34
            rf"\b\d{{4}}[-/]\d{{2}}[-/]\d{{2}}(?:[T ]{_TIME})?{_ZONE}",
            # 01/05/2024, 5/1/24 3:04:05 PM
            rf"\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b(?:,?\s{_TIME})?{_ZONE}",
            # Wed, 01 May 2024 12:34:56 GMT (HTTP), 1 May 2024
            rf"\b(?:{_DAYS},?\s)?\d{{1,2}}\s{_MONTHS}\s\d{{4}}(?:\s{_TIME})?{_ZONE}",
            # a time alone, with seconds (`12:34` alone is too often something else); not the
            # `:12:34` of a path's line and column
            r"(?<![\w:.])\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s?[AaPp][Mm]\b)?" + _ZONE,
        )
    )
)

_HEX = re.compile(
    r"\b0[xX][0-9a-fA-F]+\b"
    r"|\b(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"
)

_QUOTED = re.compile(
    r'"(?:[^"\\]|\\.)*"'
    # an apostrophe inside a word (can't, users') opens nothing
    r"|(?<!\w)'(?:[^'\\]|\\.)*'(?!\w)"
    r"|`[^`]*`"
    r"|“[^”]*”"  # typographic quotes
    r"|‘[^’]*’"  # noqa: RUF001
)

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'`<>]*(?:<[a-z]+>[^\s\"'`<>]*)*")
_URL_TRAILING = ".,;:!?)]}"

# A path segment: the usual file name characters, or a placeholder an earlier step left.
_SEGMENT = r"(?:[\w.@+~-]|<[a-z]+>)+"
_LINE_COL = r"(?::\d+){0,2}"
_PATH = re.compile(
    "(?:"
    + "|".join(
        (
            # C:\Users\ci\app\test.py, \\server\share\file
            r"\b[A-Za-z]:\\(?:[^\\\s:*?\"'<>|]+\\?)*",
            r"\\\\[^\\\s:*?\"'<>|]+(?:\\[^\\\s:*?\"'<>|]+)+",
            # /home/ci/app/test.py, ./a, ../a, ~/a (not the `b` of a/b: not after a word)
            rf"(?<![\w/.~-])(?:~|\.\.?)?(?:/{_SEGMENT})+/?",
            # tests/test_login.py: relative, so it must end in a file name with an extension
            r"(?<![\w/.~-])(?:[\w.@+-]+/)+[\w@+-]+\.[A-Za-z][A-Za-z0-9]{0,9}\b",
        )
    )
    + ")"
    + _LINE_COL
)

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")

_SPACE = re.compile(r"\s+")


def signature(message: str, type: str | None = None) -> str:
    """The normalised form of a failure, `type: message`, at most `MAX_SIGNATURE_LENGTH` long.

    Only the first non-blank line of `message` counts. See the module's docstring for what is
    replaced, and why quoted values and whole URLs are.
    """
    kind = _SPACE.sub(" ", type).strip() if type else ""
    body = _normalise(_first_line(message))
    if kind and body and not body.startswith(kind + ":"):
        body = f"{kind}: {body}"
    result = body or kind or EMPTY_SIGNATURE
    return result[:MAX_SIGNATURE_LENGTH].rstrip()


def _first_line(message: str) -> str:
    for line in message.splitlines():
        if line.strip():
            return line
    return ""


def _normalise(line: str) -> str:
    line = _ANSI.sub("", line)
    line = _UUID.sub("<uuid>", line)
    line = _TIMESTAMP.sub("<ts>", line)
    line = _HEX.sub("<hex>", line)
    line = _QUOTED.sub("<str>", line)
    line = _URL.sub(_url, line)
    line = _PATH.sub("<path>", line)
    line = _NUMBER.sub("<n>", line)
    return _SPACE.sub(" ", line).strip()


def _url(match: re.Match[str]) -> str:
    """`<url>`, keeping the punctuation that ends a sentence rather than the URL."""
    url = match.group()
    stripped = url.rstrip(_URL_TRAILING)
    return "<url>" + url[len(stripped) :]
