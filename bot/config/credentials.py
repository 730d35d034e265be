"""The settings that are read before the others, because they cannot fail validation: the Slack
secrets and CHIME_POLICY_FILE's location. Whatever else is malformed, these are still read, so
every problem (a missing token, a bad policy file) is reported in the same run
(bot/config/settings.py, `load_settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal[
    "serve", "demo", "console", "check", "init-store", "audit", "migrate-store", "backup"
]

SETTINGS_CONFIG = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")


class SlackCredentials(BaseSettings):
    """The secrets alone: they cannot fail validation, so they can always be read, even when
    other settings are malformed, and every problem is reported in one go."""

    model_config = SETTINGS_CONFIG

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None

    def wants_socket_mode(self, forced: bool = False) -> bool:
        return forced or bool(secret_text(self.slack_app_token))

    def problems_for(self, mode: Mode, *, socket_mode: bool = False) -> list[str]:
        """What this mode needs that is missing; empty when it can start."""
        if mode != "serve":
            return []
        problems: list[str] = []
        if not secret_text(self.slack_bot_token):
            problems.append("SLACK_BOT_TOKEN: missing (the bot token, xoxb-...)")
        if socket_mode:
            if not secret_text(self.slack_app_token).startswith("xapp-"):
                problems.append(
                    "SLACK_APP_TOKEN: Socket Mode needs an app-level token (xapp-...) "
                    "with the connections:write scope"
                )
        elif not secret_text(self.slack_signing_secret):
            problems.append("SLACK_SIGNING_SECRET: missing (Basic Information > App Credentials)")
        return problems


class PolicyFileLocation(BaseSettings):
    """CHIME_POLICY_FILE alone: like the secrets it cannot fail validation, so the file is read
    and its problems reported even when other settings are malformed, all in one run."""

    model_config = SETTINGS_CONFIG

    chime_policy_file: str | None = None


def secret_text(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""
