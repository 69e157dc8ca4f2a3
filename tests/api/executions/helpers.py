"""What the execution-tracking tests share: routes and small creation helpers."""

from __future__ import annotations

from typing import Any

import httpx
from beanie import PydanticObjectId

from api.executions import service, tracking
from documents.base import utcnow
from documents.executions import ExecutionStatus

RUNS = "/api/v1/executions/runs"
EXECUTIONS = "/api/v1/executions"
TESTS = "/api/v1/tests"
SUITES = "/api/v1/suites"

TWO_STEPS = [
    {"action": "navigate", "value": "https://example.com/login"},
    {"action": "click", "selector": "#submit"},
]


async def create_case(
    client: httpx.AsyncClient, name: str, *, status: str = "active", **fields: Any
) -> dict[str, Any]:
    body = {"name": name, "status": status, "steps": TWO_STEPS, **fields}
    response = await client.post(TESTS, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_suite(
    client: httpx.AsyncClient, name: str, case_ids: list[str], **fields: Any
) -> dict[str, Any]:
    response = await client.post(SUITES, json={"name": name, "test_case_ids": case_ids, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_run(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(RUNS, json={"name": "nightly", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def run_executions(client: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    """The run's executions, oldest first."""
    response = await client.get(
        EXECUTIONS, params={"run_id": run_id, "sort_by": "created_at", "order": "asc", "limit": 200}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def set_status(
    client: httpx.AsyncClient, execution_id: str, status: str, **fields: Any
) -> dict[str, Any]:
    response = await client.patch(f"{EXECUTIONS}/{execution_id}", json={"status": status, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def get_run(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await client.get(f"{RUNS}/{run_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def counted(run: dict[str, Any]) -> dict[str, int]:
    """The run's non-zero counters."""
    return {name: value for name, value in run["counters"].items() if value}


async def write_without_closing(execution_id: str, status: str) -> tracking.Change:
    """Steps 1 and 2 of a status change (`service.change_status`), stopped where a reporter is
    between them: the change open, the execution written, the run's counters not yet moved."""
    execution = await service.get_execution(id=PydanticObjectId(execution_id))
    change = await tracking.open_change(execution.run_id)
    fields = service.status_fields(execution, ExecutionStatus(status), now=utcnow())
    written = await service.executions().update_one(
        {"_id": execution.id, "status": execution.status.value},
        service.status_update(fields, change.seq),
    )
    assert written.modified_count == 1
    return change
