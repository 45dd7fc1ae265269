"""Server settings (pydantic-settings, environment prefix ``SERVER_``)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_TOKENS = frozenset({"", "changeme"})
"""Organizer tokens refused outside the ``dev`` environment."""


class ServerSettings(BaseSettings):
    """Everything the server reads from its environment, built once at the entry point.

    Attributes:
        database_url: SQLAlchemy URL of the database.
        organizer_token: bearer token of the bootstrap organizer; stored only as a SHA-256 hash.
        environment: ``"dev"`` accepts placeholder tokens, ``"prod"`` refuses them.
        host: interface uvicorn listens on.
        port: TCP port uvicorn listens on.
        log_level: level of the ``server`` loggers.
        link_secret: key signing attendee self-service links; when unset it is derived
            from ``organizer_token`` (changing either revokes every link).
        link_valid_days: how long a newly issued attendee link works.
        retention_interval_s: how often the retention purge runs (0: never, e.g. when a
            separate job runs it).
    """

    model_config = SettingsConfigDict(env_prefix="SERVER_", extra="ignore")

    database_url: str = "sqlite:///./inperson.sqlite3"
    organizer_token: SecretStr
    environment: Literal["dev", "prod"] = "prod"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    link_secret: SecretStr | None = None
    link_valid_days: int = Field(default=90, ge=1, le=3650)
    retention_interval_s: float = Field(default=3600.0, ge=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _refuse_placeholder_token(self) -> Self:
        token = self.organizer_token.get_secret_value()
        if self.environment != "dev" and token.strip().lower() in PLACEHOLDER_TOKENS:
            raise ValueError(
                "SERVER_ORGANIZER_TOKEN is empty or a placeholder; set a real secret "
                "(placeholders are accepted only with SERVER_ENVIRONMENT=dev)"
            )
        return self
