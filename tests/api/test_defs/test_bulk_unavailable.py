"""`POST /tests/bulk` when the database goes away: every item's result says what may have happened.

The database here is an engine of the test's own (`doomed_client`), stopped before the request
(after one write while it was up), so what fails and where does not depend on timing: the first
batch's write fails (its items may have been written, as far as the service can know), and no
later batch is sent.
"""

from __future__ import annotations

from typing import Any

import httpx

from api.database.capabilities import EMBEDDED_WRITE_BATCH
from api.database.embedded import EmbeddedEngine
from tests.api.test_defs.helpers import BULK


async def test_items_of_the_failed_batch_may_be_written_later_ones_were_not(
    engine: EmbeddedEngine, doomed_client: httpx.AsyncClient
) -> None:
    operations = [
        {"op": "create", "data": {"name": f"Case {n}"}} for n in range(EMBEDDED_WRITE_BATCH + 1)
    ]
    # A write while the database is up: the service has seen its schema (else it could not
    # know it may write, and would refuse the bulk whole, writing nothing).
    assert (await doomed_client.post(BULK, json={"operations": [operations[0]]})).is_success
    engine.stop()

    response = await doomed_client.post(BULK, json={"operations": operations})

    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert (body["created"], body["updated"], body["deleted"]) == (0, 0, 0)
    assert body["failed"] == EMBEDDED_WRITE_BATCH + 1
    results = body["results"]
    assert [result["index"] for result in results] == list(range(EMBEDDED_WRITE_BATCH + 1))
    for result in results:
        assert result["status"] == "failed"
        assert result["error"]["status"] == 503
        assert result["error"]["type"] == "/problems/database-unavailable"
        assert "database became unavailable" in result["error"]["detail"]
    assert {result["error"]["detail"] for result in results[:EMBEDDED_WRITE_BATCH]} == {
        results[0]["error"]["detail"]
    }
    assert "may have been written" in results[0]["error"]["detail"]
    assert "not written" in results[EMBEDDED_WRITE_BATCH]["error"]["detail"]
