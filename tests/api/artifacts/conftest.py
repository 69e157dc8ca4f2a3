"""What the artifact tests share."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.executions.helpers import create_case, create_run, run_executions


@pytest.fixture
async def execution(client: httpx.AsyncClient) -> dict[str, Any]:
    """An execution with two steps."""
    case = await create_case(client, "Login works")
    run = await create_run(client, test_case_ids=[case["id"]])
    [found] = await run_executions(client, run["id"])
    return found
