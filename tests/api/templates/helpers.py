"""What the template tests share: routes and template creation."""

from __future__ import annotations

from typing import Any

import httpx

TEMPLATES = "/api/v1/templates"
TESTS = "/api/v1/tests"
TEMPLATE_COLLECTION = "test_templates"
CASE_COLLECTION = "test_cases"


def template_url(template_id: str) -> str:
    return f"{TEMPLATES}/{template_id}"


def instantiate_url(template_id: str) -> str:
    return f"{TEMPLATES}/{template_id}/instantiate"


async def create_template(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(TEMPLATES, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
