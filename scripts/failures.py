"""A driver failure as one short line an operator can act on.

PyMongo's messages carry the whole topology description (several hundred characters); what an
operator needs is where the database was and why it did not answer.
"""

from __future__ import annotations

import os
import re

from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

MAX_REASON = 160

_CONFIGURED_TIMEOUTS = re.compile(r"\s*\(configured timeouts:[^)]*\)")
_ERRNO = re.compile(r"^\[Errno (?P<errno>-?\d+)\]\s*")
# "host:port: reason" (IPv6 hosts are bracketed); one entry per server tried, comma-separated.
_SERVER = r"(?:\[[^\]]+\]|[^\s:,\[]+):\d+: "
_SERVER_PREFIX = re.compile(rf"^\s*{_SERVER}")
_NEXT_SERVER = re.compile(rf",\s*{_SERVER}")
_SELECTION_TIMEOUT = re.compile(r", Timeout: (?P<seconds>[\d.]+)s")


def describe_database_error(exc: PyMongoError, *, where: str) -> str:
    """One line: "cannot reach the database at <where>: <reason>", or what the server refused."""
    if isinstance(exc, ServerSelectionTimeoutError):
        return f"cannot reach the database at {where}: {_selection_reason(str(exc))}"
    if isinstance(exc, ConnectionFailure):
        return f"lost the connection to the database at {where}: {_reason(str(exc))}"
    if isinstance(exc, OperationFailure):
        details = exc.details or {}
        message = str(details.get("errmsg") or str(exc).split(", full error:")[0])
        return f"the database at {where} refused the command: {_short(message)} (code {exc.code})"
    if isinstance(exc, ConfigurationError):
        return f"cannot use the database at {where}: {_short(str(exc))}"
    return f"database error at {where}: {_short(str(exc))}"


def _selection_reason(message: str) -> str:
    head = message.split(", Timeout:", 1)[0]
    if _SERVER_PREFIX.match(head):
        return _reason(head)
    # "No servers found yet", "No replica set members match selector ...": nothing answered.
    timeout = _SELECTION_TIMEOUT.search(message)
    within = f" within {timeout['seconds']} s" if timeout else ""
    return f"no server answered{within}"


def _reason(text: str) -> str:
    """The first server's reason, without its address and the configured timeouts.

    An OS error is named by its errno ("connection refused"): the driver's own wording differs
    between its sync and async clients ("Connect call failed ('127.0.0.1', 9)").
    """
    text = _CONFIGURED_TIMEOUTS.sub("", text).strip()
    if (server := _SERVER_PREFIX.match(text)) is not None:
        text = _NEXT_SERVER.split(text[server.end() :], maxsplit=1)[0].strip()
    if (errno := _ERRNO.match(text)) is not None:
        code = int(errno["errno"])
        # Negative numbers are resolver (getaddrinfo) codes, which os.strerror does not know.
        text = os.strerror(code) if code > 0 else text[errno.end() :]
    return _short(text[:1].lower() + text[1:])


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"
