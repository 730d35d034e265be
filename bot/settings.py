"""Configuration: one pydantic-settings model, built once in the CLI and passed down.

Environment variables (and a `.env` file) are the only source. Tokens are SecretStr so they never
appear in reprs or logs. Problems are collected, never raised one at a time, so an operator sees
every mistake in a single run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

Mode = Literal["serve", "demo", "console", "check", "init-store"]


def _split_ids(value: object, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    ids = tuple(str(item).strip() for item in items if str(item).strip())
    bad = [i for i in ids if not pattern.fullmatch(i)]
    if bad:
        raise ValueError(f"not {what}: {', '.join(bad)}")
    return ids


_CONFIG = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")


class SlackCredentials(BaseSettings):
    """The secrets alone: they cannot fail validation, so they can always be read, even when
    other settings are malformed, and every problem is reported in one go."""

    model_config = _CONFIG

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None

    def wants_socket_mode(self, forced: bool = False) -> bool:
        return forced or bool(_secret(self.slack_app_token))

    def problems_for(self, mode: Mode, *, socket_mode: bool = False) -> list[str]:
        """What this mode needs that is missing; empty when it can start."""
        if mode != "serve":
            return []
        problems: list[str] = []
        if not _secret(self.slack_bot_token):
            problems.append("SLACK_BOT_TOKEN: missing (the bot token, xoxb-...)")
        if socket_mode:
            if not _secret(self.slack_app_token).startswith("xapp-"):
                problems.append(
                    "SLACK_APP_TOKEN: Socket Mode needs an app-level token (xapp-...) "
                    "with the connections:write scope"
                )
        elif not _secret(self.slack_signing_secret):
            problems.append("SLACK_SIGNING_SECRET: missing (Basic Information > App Credentials)")
        return problems


class Settings(SlackCredentials):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    slack_api_url: str = "https://slack.com/api/"

    aws_region: str = "us-east-1"

    chime_allowed_channels: Annotated[tuple[str, ...], NoDecode] = ()
    chime_approvers: Annotated[tuple[str, ...], NoDecode] = ()
    chime_approval_channel: str | None = None
    chime_default_account: str | None = None
    chime_store_url: str | None = None
    chime_request_ttl: int = Field(default=86400, gt=0)
    # An `approving` request untouched for this long is treated as stranded by a crash and is
    # settled by looking the user up in Chime. Longer than one Chime call with all its retries.
    chime_execution_lease: float = Field(default=60.0, ge=0)
    chime_sweep_interval: float = Field(default=60.0, gt=0)
    chime_account_cache_ttl: float = Field(default=300.0, ge=0)
    # Chime calls in flight at once (and the HTTP pool size). No threads back them (aiobotocore),
    # so a burst of 200 lookups fits; Chime's throttling is met by the retries, not by this.
    chime_max_concurrency: int = Field(default=256, ge=1, le=1024)
    # Total time one Chime operation of an approval may spend retrying before it fails.
    chime_retry_budget: float = Field(default=20.0, gt=0)
    # The same for what a user waits on (lookups, filing): short, so an outage is answered
    # within 8 s.
    chime_lookup_budget: float = Field(default=6.0, gt=0)
    # Per-attempt socket read timeout. A blocked call also holds up process exit this long.
    chime_read_timeout: float = Field(default=10.0, gt=0)

    port: int = Field(default=3000, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] | None = None  # default: text on a terminal, else JSON
    # On SIGTERM, how long in-flight work may take to finish before it is cut short.
    shutdown_grace: float = Field(default=20.0, ge=0)

    @field_validator("chime_allowed_channels", mode="before")
    @classmethod
    def _channels(cls, value: object) -> tuple[str, ...]:
        return _split_ids(value, CHANNEL_ID, "Slack channel IDs (like C0123ABCD)")

    @field_validator("chime_approvers", mode="before")
    @classmethod
    def _approvers(cls, value: object) -> tuple[str, ...]:
        return _split_ids(value, USER_ID, "Slack user IDs (like U0123ABCD)")

    @field_validator("chime_approval_channel", mode="before")
    @classmethod
    def _approval_channel(cls, value: object) -> str | None:
        if value is None or str(value).strip() == "":
            return None
        text = str(value).strip()
        if not CHANNEL_ID.fullmatch(text):
            raise ValueError(f"not a Slack channel ID (like C0123ABCD): {text}")
        return text

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    def data_dir(self) -> Path:
        return Path(".chime-bot")


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


class ConfigError(Exception):
    """Every configuration problem at once, phrased for the operator."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def render(self) -> str:
        lines = ["chime-bot: configuration problems:"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Set these as environment variables or in a .env file; see README.md.")
        return "\n".join(lines)


def load_settings(mode: Mode, *, socket_mode: bool = False, **overrides: object) -> Settings:
    """Build Settings from the environment, raising ConfigError listing every problem."""
    credentials = SlackCredentials(**overrides)  # type: ignore[arg-type]
    socket = credentials.wants_socket_mode(socket_mode)
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors()]
        raise ConfigError(problems + credentials.problems_for(mode, socket_mode=socket)) from None
    problems = settings.problems_for(mode, socket_mode=socket)
    if problems:
        raise ConfigError(problems)
    return settings


def _describe(err: object) -> str:
    e = err if isinstance(err, dict) else {}
    field = ".".join(str(p) for p in e.get("loc", ())) or "settings"
    message = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{field.upper()}: {message}"
