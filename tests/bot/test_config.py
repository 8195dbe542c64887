"""Settings from the environment: lists, secrets, derived URLs, and .env.example coverage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import REPO_ROOT, Settings
from tests.bot.conftest import without_dotenv


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = without_dotenv()
    assert settings.token == ""
    assert settings.bot_api_url == "https://api.telegram.org/bot"
    assert settings.bot_file_url == "https://api.telegram.org/file/bot"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("data/bot.sqlite3")
    assert settings.allows(1, 1) and settings.webhook_url is None


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:ABC")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/bot/")
    monkeypatch.setenv("ADMIN_USER_IDS", "1, 2,3")
    monkeypatch.setenv("ALLOWED_CHAT_IDS", "[-100, 5]")
    monkeypatch.setenv("PRELOAD_TASKS", "chat,qa")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("WEBHOOK_URL", "https://example.org/hook/abc")
    monkeypatch.setenv("WEBHOOK_SECRET_TOKEN", "s3cret")
    monkeypatch.setenv("STORE_GROUP_MESSAGES", "true")
    settings = without_dotenv()
    assert settings.token == "123:ABC"
    assert settings.bot_api_url == "http://127.0.0.1:8081/bot"
    assert settings.bot_file_url == "http://127.0.0.1:8081/file/bot"
    assert settings.admin_user_ids == [1, 2, 3]
    assert settings.allowed_chat_ids == [-100, 5]
    assert settings.preload_tasks == ["chat", "qa"]
    assert settings.database_url == "sqlite+aiosqlite:///x.db"
    assert settings.webhook_path == "hook/abc"
    assert settings.secrets == ["123:ABC", "s3cret"]
    assert "s3cret" not in repr(settings) and "123:ABC" not in repr(settings)
    assert settings.store_group_messages is True


def test_allow_lists() -> None:
    settings = without_dotenv(allowed_user_ids=[1], allowed_chat_ids=[-9],
                        admin_user_ids=[2])
    assert settings.allows(1, 1) and settings.allows(2, 2) and settings.allows(3, -9)
    assert not settings.allows(3, 3) and not settings.allows(3, -8)


def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_MAX_SIZE", "0")
    with pytest.raises(ValueError, match="batch_max_size"):
        without_dotenv()


def test_env_example_lists_every_setting() -> None:
    example = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected <= listed, sorted(expected - listed)
    for name in sorted(listed):  # each with a comment just above it (or above its group)
        assert re.search(rf"#[^\n]*\n(#?\s*[A-Z_]+=[^\n]*\n)*#?\s*{name}=", example), name


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("MAX_INPUT_CHARS=123\nMODEL_DIR=/models\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.max_input_chars == 123 and str(settings.model_dir) == "/models"


def test_a_plain_postgresql_url_gets_the_async_driver() -> None:
    assert without_dotenv(database_url="postgresql://bot@127.0.0.1/bot").database_url == (
        "postgresql+asyncpg://bot@127.0.0.1/bot")
    assert without_dotenv(database_url="postgresql+asyncpg://bot@db/bot").database_url == (
        "postgresql+asyncpg://bot@db/bot")
