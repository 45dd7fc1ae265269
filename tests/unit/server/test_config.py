"""ServerSettings: environment prefix, placeholder secrets, defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.config import ServerSettings


def test_reads_server_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVER_ORGANIZER_TOKEN", "s3cret-value")
    monkeypatch.setenv("SERVER_PORT", "9123")
    monkeypatch.setenv("SERVER_LOG_LEVEL", "debug")
    monkeypatch.setenv("SERVER_DATABASE_URL", "sqlite:///x.sqlite3")
    settings = ServerSettings()
    assert settings.organizer_token.get_secret_value() == "s3cret-value"
    assert settings.port == 9123
    assert settings.log_level == "DEBUG"
    assert settings.database_url == "sqlite:///x.sqlite3"
    assert settings.environment == "prod"
    assert settings.host == "127.0.0.1"


def test_token_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVER_ORGANIZER_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="organizer_token"):
        ServerSettings()


@pytest.mark.parametrize("token", ["", "changeme", "  ChangeMe "])
def test_placeholder_token_refused_in_prod(token: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        ServerSettings(organizer_token=token)


@pytest.mark.parametrize("token", ["", "changeme"])
def test_placeholder_token_allowed_in_dev(token: str) -> None:
    settings = ServerSettings(organizer_token=token, environment="dev")
    assert settings.organizer_token.get_secret_value() == token


def test_secret_is_not_shown() -> None:
    settings = ServerSettings(organizer_token="do-not-print-me")
    assert "do-not-print-me" not in repr(settings)
    assert "do-not-print-me" not in str(settings.model_dump())


def test_unknown_environment_refused() -> None:
    with pytest.raises(ValidationError):
        ServerSettings(organizer_token="x" * 20, environment="staging")
