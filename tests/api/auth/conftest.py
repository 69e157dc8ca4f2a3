"""Keys of every scope, and clients that send them (or none)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from api.auth import keys
from documents.keys import Scope


async def make_key(scopes: Iterable[Scope], *, name: str | None = None) -> str:
    """A new key's secret."""
    held = sorted(set(scopes))
    created = await keys.create_key(
        name=name or "k-" + "-".join(s.replace(":", "_") for s in held),
        scopes=held,
        created_by="tests",
    )
    return created.secret


@asynccontextmanager
async def caller(
    app: FastAPI, headers: dict[str, str] | None = None, *, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the (running) app from `address`, sending `headers`."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers or {}
    ) as http:
        yield http


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with caller(app) as http:
        yield http
