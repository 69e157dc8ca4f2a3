"""Schemathesis hooks for tests/test_schemathesis.py (named in schemathesis.toml)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis

_VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """Give every request with a valid `Idempotency-Key` a key of its own.

    Generated keys repeat across requests (`"0"` often): with another request that is a 422, with
    the same one a replay of the first answer, whose resource the fuzzer may since have deleted.
    Both are the API keeping its promise, and noise to a fuzzer; tests/api/test_idempotency.py
    tests them. Invalid keys are left as generated, so their 422 is still checked.
    """
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and _VALID_KEY.match(key):
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
