"""Settings: the public configuration contract, read from the environment and `.env`.

The variable names are relied on by operators and deploy scripts; keep them exactly.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

OFFICIAL_V2_URL = "https://api.sms-man.com/control/"
OFFICIAL_COMPAT_URL = "https://api.sms-man.ru/stubs/handler_api.php"
SHIPPED_LANGUAGES = ("en", "ru")
REDIS_SCHEMES = ("redis", "rediss", "unix")


class Protocol(StrEnum):
    V2 = "v2"
    COMPAT = "compat"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    bot_token: SecretStr
    telegram_api_url: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org")
    smsman_protocol: Protocol = Protocol.V2
    smsman_api_url: AnyHttpUrl | None = None
    smsman_ref: str = ""
    redis_url: str = ""
    data_dir: Path = Path("./data")
    token_encryption_key: SecretStr | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    poll_interval: float = Field(default=3.0, gt=0)
    activation_timeout: float = Field(default=1200.0, gt=0)
    # The provider budget (bot/provider/budget.py, docs/provider-api.md "Request budget"):
    # requests per second of this process in all, and per SMS-man key.
    smsman_max_rps: float = Field(default=500.0, gt=0)
    smsman_token_rps: float = Field(default=5.0, gt=0)
    updates_in_flight: int = Field(default=64, ge=1, le=10_000)
    smsman_timeout: float = Field(default=20.0, gt=0)
    # Read the balance before and after every purchase, for providers that may ignore
    # maxPrice: two more provider calls per number (docs/provider-api.md).
    smsman_verify_debit: bool = False
    webhook_url: AnyHttpUrl | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    default_language: str = "en"
    log_level: str = "INFO"

    @field_validator(
        "smsman_api_url", "webhook_url", "token_encryption_key", "webhook_secret", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        try:
            url = urlsplit(value)
            valid = url.scheme in REDIS_SCHEMES and url.port != 0
        except ValueError:  # a port that is not a number, or out of range
            valid = False
        if not valid:
            raise ValueError(
                "must be a redis://, rediss:// or unix:// URL, e.g. redis://localhost:6379/0 "
                "(or empty for the embedded Redis)"
            )
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",")]
            try:
                return frozenset(int(part) for part in parts if part)
            except ValueError:
                raise ValueError("must be Telegram user ids separated by commas") from None
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and -.
        if value is None:
            return value
        secret = value.get_secret_value()
        allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        if not 1 <= len(secret) <= 256 or not set(secret) <= allowed:
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in SHIPPED_LANGUAGES:
            raise ValueError(f"must be one of: {', '.join(SHIPPED_LANGUAGES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        return self

    @property
    def provider_url(self) -> str:
        """The provider endpoint for the chosen protocol (official one unless overridden)."""
        if self.smsman_api_url is not None:
            return str(self.smsman_api_url)
        return OFFICIAL_V2_URL if self.smsman_protocol is Protocol.V2 else OFFICIAL_COMPAT_URL

    @property
    def webhook_mode(self) -> bool:
        return self.webhook_url is not None


class ConfigError(Exception):
    """A configuration problem, phrased as one line an operator can act on."""


def describe_validation_error(error: ValidationError) -> str:
    """Turn pydantic's report into one line naming each bad variable."""
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "configuration"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required but not set"
            problems.append(f"{name} {message}")
        else:
            problems.append(f"{name}: {message}")
    return "; ".join(problems)


def load_settings(**overrides: object) -> Settings:
    """Read the settings or raise ConfigError with a one-line explanation."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
