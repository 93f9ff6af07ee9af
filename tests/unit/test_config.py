from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, Protocol, load_settings
from bot.store.crypto import check_key


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("SMSMAN_", "WEBHOOK_", "BOT_", "REDIS_", "POLL_", "ADMIN_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(str(tmp_path))  # no stray .env


def test_missing_bot_token_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "BOT_TOKEN" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    settings = load_settings()
    assert settings.smsman_protocol is Protocol.V2
    assert settings.provider_url.startswith("https://api.sms-man.com/control")
    assert settings.poll_interval == 3
    assert settings.activation_timeout == 1200
    assert not settings.webhook_mode


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMSMAN_PROTOCOL", "v3"),
        ("POLL_INTERVAL", "often"),
        ("SMSMAN_API_URL", "not a url"),
        ("ACTIVATION_TIMEOUT", "-5"),
        ("ADMIN_IDS", "12,bob"),
    ],
)
def test_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert name in str(caught.value)
    assert "\n" not in str(caught.value)


def test_compat_protocol_uses_handler_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    monkeypatch.setenv("SMSMAN_PROTOCOL", "compat")
    monkeypatch.setenv("ADMIN_IDS", "1, 2")
    settings = load_settings()
    assert settings.provider_url.endswith("handler_api.php")
    assert settings.admin_ids == {1, 2}


def test_webhook_requires_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    monkeypatch.setenv("WEBHOOK_URL", "https://example.org/hook")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "WEBHOOK_SECRET" in str(caught.value)


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # As `.env` files have them: `NAME=` with nothing after it.
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    for name in ("SMSMAN_API_URL", "WEBHOOK_URL", "WEBHOOK_SECRET", "TOKEN_ENCRYPTION_KEY"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("REDIS_URL", " ")
    settings = load_settings()
    assert settings.provider_url.startswith("https://api.sms-man.com/control")
    assert not settings.webhook_mode
    assert settings.webhook_secret is None
    assert settings.token_encryption_key is None  # generated into DATA_DIR
    assert settings.redis_url == ""  # the embedded Redis


def test_several_token_keys_are_accepted_new_first() -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    assert check_key(f"{new}, {old}") == f"{new}, {old}"
    with pytest.raises(ConfigError, match="separated by commas"):
        check_key(f"{new},not-a-key")
