"""The API against its own OpenAPI document, as a fuzzer sees it.

Schemathesis runs every phase (examples, coverage, fuzzing, stateful) with every check and a fixed
seed against a real `jbts serve` (on the embedded engine, or on `MONGODB_URI`): no server error, no
response that contradicts the schema, every status code documented, valid input accepted and
invalid input refused. What schemathesis cannot know (a reference to an id that does not exist,
a stale `If-Match`) is listed, with the reason, in `schemathesis.toml` at the project root.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from beanie import init_beanie
from pymongo import MongoClient

from api.auth import keys
from api.database.connection import open_client
from documents.keys import ApiKey, Scope
from tests.servers import Server, jbts_executable, server_env

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261130
MAX_EXAMPLES = 25
"""Per operation and phase: enough to reach every documented status, small enough for CI."""
RUN_BOUND = 1800.0
"""A bound on the whole run, not an expectation (it takes a minute or two on a quiet machine)."""


@pytest.fixture
def served(mongodb_uri: str, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """`jbts serve` with API keys required, on a database of its own (on the session's engine,
    or MONGODB_URI), and the secret of an admin key made for it."""
    db_name = f"jbts_fuzz_{uuid.uuid4().hex[:12]}"
    env = server_env(
        MONGODB_URI=mongodb_uri,
        MONGODB_DB=db_name,
        JBTS_AUTH="required",
        # Schemathesis sends many invalid keys on purpose and wants each refused with a 401, not
        # the 429 of the failure limit (tests/api/auth/test_keys.py tests the limit).
        JBTS_AUTH_FAILURE_LIMIT="1000000",
    )
    subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [jbts_executable(), "migrate", "up"], env=env, check=True, capture_output=True
    )
    secret = asyncio.run(_admin_key(mongodb_uri, db_name))
    server = Server([], env, tmp_path)
    try:
        server.get_when_up("/health/ready", 200)
        yield server, secret
    finally:
        server.stop()
        client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri)
        with client:
            client.drop_database(db_name)


async def _admin_key(uri: str, db_name: str) -> str:
    mongo = open_client(uri)
    try:
        await init_beanie(database=mongo[db_name], document_models=[ApiKey], skip_indexes=True)
        created = await keys.create_key(name="fuzzer", scopes=[Scope.ADMIN], created_by="tests")
    finally:
        await mongo.close()
    return created.secret


def test_the_api_keeps_the_promises_of_its_openapi_document(
    served: tuple[Server, str], tmp_path: Path
) -> None:
    server, secret = served
    st = Path(sys.executable).parent / "st"
    command = [
        str(st),
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {secret}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--generation-database",
        "none",
        # Hypothesis's check that generation is efficient, not a check of the API: with the
        # key's header fixed, generating the other headers of a few operations (`If-Match`,
        # `If-None-Match`) discards many candidates, which it reports as a failed health check.
        "--suppress-health-check",
        "filter_too_much",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # for the hooks module, tests.schemathesis_hooks
    result = subprocess.run(  # noqa: S603 - the installed schemathesis, fixed arguments
        command,
        capture_output=True,
        text=True,
        timeout=RUN_BOUND,
        cwd=tmp_path,
        env=env,
        check=False,
    )

    tail = "\n".join(result.stdout.splitlines()[-400:])
    assert result.returncode == 0, f"schemathesis found problems:\n{tail}\n{result.stderr[-2000:]}"
