"""Every setting of the bot, read from the environment and ``.env`` (see ``.env.example``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from model.api import ModelSettings

Language = Literal["en", "zh"]
Mode = Literal["auto", "qa", "chat", "translate", "summarize"]
IdList = Annotated[list[int], NoDecode]
NameList = Annotated[list[str], NoDecode]

REPO_ROOT = Path(__file__).resolve().parent.parent
TELEGRAM_API = "https://api.telegram.org"
ALL_TASKS = ("intent", "qa", "chat", "translate-en-zh", "translate-zh-en", "summarize")


def _split(value: Any) -> Any:
    """``"1, 2,3"`` -> ``["1", "2", "3"]``; JSON-style ``[1, 2]`` works too; empty -> ``[]``."""
    if isinstance(value, str):
        text = value.strip().removeprefix("[").removesuffix("]")
        return [part.strip().strip("\"'") for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """The bot's configuration. Field ``foo_bar`` is read from ``FOO_BAR``."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", validate_default=True
    )

    # Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = TELEGRAM_API
    telegram_max_messages_per_s: float = Field(default=30.0, gt=0)
    telegram_group_messages_per_min: float = Field(default=20.0, gt=0)
    telegram_max_retries: int = Field(default=3, ge=0)
    concurrent_updates: int = Field(default=64, ge=1)

    # webhook (polling when WEBHOOK_URL is empty)
    webhook_url: str | None = None
    webhook_secret_token: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)

    # storage
    bot_data_dir: Path = REPO_ROOT / "data"
    database_url: str = ""
    recovery_window_s: float = Field(default=900.0, ge=0)
    # several processes on one PostgreSQL database (bot/services/replicas.py): auto = on with
    # PostgreSQL, off with SQLite
    replicas: Literal["auto", "on", "off"] = "auto"
    replica_heartbeat_s: float = Field(default=5.0, gt=0)
    replica_timeout_s: float = Field(default=20.0, gt=0)  # no heartbeat this long: dead
    replica_pointer_s: float = Field(default=1.0, gt=0)  # how often the model pointers are read
    # LISTEN/NOTIFY between replicas (promotions, retrain requests); off: polling alone (e.g.
    # behind a connection pooler in transaction mode, where LISTEN does not work)
    replica_notify: bool = True

    # access and limits
    admin_user_ids: IdList = Field(default_factory=list)
    allowed_user_ids: IdList = Field(default_factory=list)
    allowed_chat_ids: IdList = Field(default_factory=list)
    user_rate_limit: int = Field(default=20, ge=1)
    user_rate_period_s: float = Field(default=60.0, gt=0)
    max_input_chars: int = Field(default=1000, ge=16)
    default_language: Language = "en"
    store_group_messages: bool = False
    digest_default_messages: int = Field(default=50, ge=1)
    digest_max_messages: int = Field(default=200, ge=1)
    typing_delay_ms: float = Field(default=250.0, ge=0)

    # models and inference
    model_dir: Path | None = None
    model_data_dir: Path | None = None
    tf_intra_threads: int = Field(default=0, ge=0)
    tf_inter_threads: int = Field(default=0, ge=0)
    model_xla: bool = True
    preload_tasks: NameList = Field(default_factory=lambda: list(ALL_TASKS))
    batch_max_size: int = Field(default=32, ge=1)
    batch_max_wait_ms: float = Field(default=5.0, ge=0)
    inference_timeout_s: float = Field(default=30.0, gt=0)
    inference_threads: int = Field(default=2, ge=1)
    model_retry_s: float = Field(default=300.0, ge=0)
    intent_min_confidence: float = Field(default=0.6, ge=0, le=1)

    # retraining (the learning loop): schedule, tasks, budget, evaluation gate
    retrain_schedule: str = ""
    retrain_tasks: NameList = Field(default_factory=lambda: ["qa"])
    retrain_budget_minutes: float = Field(default=20.0, gt=0)
    retrain_tolerance: float = Field(default=1.0, ge=0)
    retrain_threads: int = Field(default=1, ge=1)
    retrain_nice: int = Field(default=10, ge=0, le=19)
    retrain_idle_priority: bool = True  # SCHED_IDLE: serving wins (README, Performance)
    retrain_extra_args: str = ""
    retain_candidates: int = Field(default=3, ge=0)  # disk retention (bot/services/retention.py)

    log_level: str = "INFO"

    @field_validator(
        "admin_user_ids", "allowed_user_ids", "allowed_chat_ids", "preload_tasks",
        "retrain_tasks", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("telegram_bot_token", "webhook_secret_token", "webhook_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("retrain_schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        from bot.services.schedule import parse_schedule

        parse_schedule(value)  # raises on a malformed interval or cron expression
        return value.strip()

    @field_validator("retrain_tasks")
    @classmethod
    def _known_tasks(cls, value: list[str]) -> list[str]:
        unknown = [task for task in value if task not in ALL_TASKS]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; known: {', '.join(ALL_TASKS)}")
        return value

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.bot_data_dir / 'bot.sqlite3'}"
        elif self.database_url.startswith("sqlite://"):
            self.database_url = "sqlite+aiosqlite://" + self.database_url[len("sqlite://"):]
        elif self.database_url.startswith(("postgresql://", "postgres://")):
            self.database_url = "postgresql+asyncpg://" + self.database_url.split("://", 1)[1]
        self.digest_default_messages = min(self.digest_default_messages, self.digest_max_messages)
        return self

    # -- derived values -----------------------------------------------------------------------
    @property
    def replicas_on(self) -> bool:
        if self.replicas == "auto":
            return self.database_url.startswith("postgresql")
        return self.replicas == "on"

    @property
    def token(self) -> str:
        return self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else ""

    @property
    def api_root(self) -> str:
        """The Bot API server's root URL, whether or not the setting ends in ``/bot``."""
        return self.telegram_api_base_url.rstrip("/").removesuffix("/bot").rstrip("/")

    @property
    def bot_api_url(self) -> str:
        return f"{self.api_root}/bot"

    @property
    def bot_file_url(self) -> str:
        return f"{self.api_root}/file/bot"

    @property
    def webhook_path(self) -> str:
        return urlsplit(self.webhook_url or "").path.lstrip("/")

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or a reply."""
        values = [self.token]
        if self.webhook_secret_token:
            values.append(self.webhook_secret_token.get_secret_value())
        return [v for v in values if v]

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_user_ids

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        """The allow-lists: everyone when both are empty; else admins, listed users (anywhere)
        and everyone in a listed chat."""
        if not self.allowed_user_ids and not self.allowed_chat_ids:
            return True
        return (self.is_admin(user_id) or (user_id is not None and user_id in self.allowed_user_ids)
                or (chat_id is not None and chat_id in self.allowed_chat_ids))

    def model_settings(self) -> ModelSettings:
        """What ``model`` needs to load versions (unset directories: the model's defaults)."""
        defaults = ModelSettings()
        return ModelSettings(
            model_dir=self.model_dir or defaults.model_dir,
            data_dir=self.model_data_dir or defaults.data_dir,
            intra_threads=self.tf_intra_threads,
            inter_threads=self.tf_inter_threads,
            xla=self.model_xla,
            qa_user_dir=self.bot_data_dir / "qa",  # pairs taught at run time, with the bot's data
        )
