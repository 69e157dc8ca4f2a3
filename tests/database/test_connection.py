"""The application's database client: timeouts that let a slow database finish its work.

A driver that gives up on an operation it has sent reports failure for a write the server goes on
to complete; so the client has no socket or operation timeout, a generous heartbeat (connect)
timeout, and a short server-selection timeout, which only bounds how long a request waits for a
database that is down.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from api.database.connection import Database
from api.main import create_app
from api.settings import Settings
from tests.api.helpers import UNKNOWN_ID, served


class TestTheAppsClient:
    async def test_never_abandons_an_operation_it_has_sent(self, app: FastAPI) -> None:
        database: Database = app.state.database
        options = database.client.options

        assert options.pool_options.socket_timeout is None
        assert options.timeout is None  # no client-side operation timeout (CSOT)

    async def test_waits_for_an_unavailable_database_as_long_as_the_settings_say(
        self, app: FastAPI, settings: Settings
    ) -> None:
        options = app.state.database.client.options

        assert options.server_selection_timeout == settings.server_selection_timeout_ms / 1000
        assert options.pool_options.connect_timeout == settings.connect_timeout_ms / 1000

    def test_the_heartbeat_timeout_outlasts_a_busy_engine(self) -> None:
        # The engine answered nothing for 30 s while it wrote a bulk of 1,000 (issue 6, defect 3).
        assert Settings.model_fields["connect_timeout_ms"].default >= 60_000

    async def test_command_listeners_see_the_commands_of_each_request(
        self, settings: Settings, db: AsyncDatabase[Any]
    ) -> None:
        seen = Recorder()
        app = create_app(settings, command_listeners=[seen])

        async with served(app) as client:
            await client.get(f"/api/v1/tests/{UNKNOWN_ID}")  # the key's last use is recorded
            seen.names.clear()  # start-up's own commands (Beanie's set-up)
            response = await client.get(f"/api/v1/tests/{UNKNOWN_ID}")
            during_request = list(seen.names)

        assert response.status_code == 404
        assert during_request == ["find", "find"]  # the API key's lookup, one lookup by id


class Recorder(CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass
