"""Settings refuse what cannot work, and the app refuses to start without a database."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from api.main import ConfigurationError, create_app
from api.settings import Settings


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "MONGODB_URI",
        "MONGODB_DB",
        "JBTS_DATA_DIR",
        "JBTS_SERVER_SELECTION_TIMEOUT_MS",
        "JBTS_CONNECT_TIMEOUT_MS",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


class TestDatabaseName:
    @pytest.mark.parametrize("name", ["bad name!", "", "a.b", "a/b", "x" * 64, "dollar$"])
    def test_an_invalid_name_is_refused(self, no_env: pytest.MonkeyPatch, name: str) -> None:
        with pytest.raises(ValidationError, match="mongodb_db"):
            Settings(mongodb_db=name)

    def test_an_invalid_name_in_the_environment_is_refused(
        self, no_env: pytest.MonkeyPatch
    ) -> None:
        no_env.setenv("MONGODB_DB", "bad name!")

        with pytest.raises(ValidationError, match="mongodb_db"):
            Settings()

    @pytest.mark.parametrize("name", ["jbtestsuite", "jbts_test-1", "X" * 63])
    def test_a_valid_name_is_kept(self, no_env: pytest.MonkeyPatch, name: str) -> None:
        no_env.setenv("MONGODB_DB", name)

        assert Settings().mongodb_db == name


class TestEnvironment:
    def test_defaults(self, no_env: pytest.MonkeyPatch) -> None:
        settings = Settings()

        assert settings.mongodb_uri is None
        assert settings.mongodb_db == "jbtestsuite"
        assert settings.data_dir is None
        assert settings.server_selection_timeout_ms == 2000
        assert settings.connect_timeout_ms == 120_000

    def test_reads_every_variable(self, no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        no_env.setenv("MONGODB_URI", "mongodb://db.example.com:27017")
        no_env.setenv("MONGODB_DB", "qa")
        no_env.setenv("JBTS_DATA_DIR", str(tmp_path))
        no_env.setenv("JBTS_SERVER_SELECTION_TIMEOUT_MS", "250")
        no_env.setenv("JBTS_CONNECT_TIMEOUT_MS", "30000")

        settings = Settings()

        assert settings.mongodb_uri == "mongodb://db.example.com:27017"
        assert settings.mongodb_db == "qa"
        assert settings.data_dir == tmp_path
        assert settings.server_selection_timeout_ms == 250
        assert settings.connect_timeout_ms == 30_000

    def test_a_too_short_server_selection_timeout_is_refused(
        self, no_env: pytest.MonkeyPatch
    ) -> None:
        no_env.setenv("JBTS_SERVER_SELECTION_TIMEOUT_MS", "10")

        with pytest.raises(ValidationError):
            Settings()


class TestCreateApp:
    def test_without_a_uri_is_a_configuration_error_that_points_at_jbts_serve(
        self, no_env: pytest.MonkeyPatch
    ) -> None:
        with pytest.raises(ConfigurationError, match="MONGODB_URI is not set") as refused:
            create_app(Settings())

        assert "`jbts serve`" in str(refused.value)
