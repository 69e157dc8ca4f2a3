"""Small data sets the API tests list, filter, sort and page through."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.helpers import create_browser, create_environment


@pytest.fixture
async def browsers(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Four browser configurations (created in this order), by name; the first is the default."""
    specs: list[dict[str, Any]] = [
        {"name": "Chrome desktop", "browser": "chrome", "locale": "en-US", "is_default": True},
        {"name": "Firefox headed", "browser": "firefox", "headless": False, "locale": "de-DE"},
        {"name": "Webkit mobile", "browser": "webkit", "locale": "fr-FR"},
        {"name": "Edge headed", "browser": "edge", "headless": False, "locale": "en-US"},
    ]
    created: dict[str, dict[str, Any]] = {}
    for spec in specs:
        body = await create_browser(client, **spec)
        created[body["name"]] = body
    return created


@pytest.fixture
async def environments(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Three test environments, by name; `legacy` is inactive; `staging` has a secret."""
    specs: list[dict[str, Any]] = [
        {
            "name": "staging",
            "variables": [
                {"name": "LOCALE", "value": "en-US"},
                {"name": "API_TOKEN", "value": "staging-s3cr3t", "secret": True},
            ],
        },
        {"name": "production", "base_url": "https://www.example.com/"},
        {"name": "legacy", "base_url": "https://old.example.com/", "is_active": False},
    ]
    created: dict[str, dict[str, Any]] = {}
    for spec in specs:
        body = await create_environment(client, **spec)
        created[body["name"]] = body
    return created
