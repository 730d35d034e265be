"""Configuration: one pydantic-settings model, built once in the CLI and passed down.

Environment variables (and a `.env` file) are the only source. Tokens are SecretStr so they never
appear in reprs or logs. Problems are collected, never raised one at a time, so an operator sees
every mistake in a single run.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from botocore.exceptions import BotoCoreError
from dotenv import dotenv_values
from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict, SettingsError

from bot.aws import botocore_region
from bot.config.credentials import Mode, PolicyFileLocation, SlackCredentials
from bot.config.lease import lease_problems
from bot.config.offboarding import offboarding_problems
from bot.config.policy_file import PolicyFile, PolicyFileError, load_policy_file
from bot.config.policy_source import PARAMETER, SSM_VARIABLE, read_policy
from bot.slack.ids import APPROVER_ID, CHANNEL_ID, TEAM_OR_ORG_ID
from bot.store import parse_store_url, store_table

# us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, ap-southeast-5 ...
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
OFFBOARDING_MODES = ("off", "request", "suspend")
ENV_FILE = ".env"
# Variables in our own namespace that are not settings are typos, never meant for someone else.
OWN_PREFIX = "CHIME_"


def _split_ids(value: object, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    ids = tuple(str(item).strip() for item in items if str(item).strip())
    bad = [i for i in ids if not pattern.fullmatch(i)]
    if bad:
        raise ValueError(f"not {what}: {', '.join(bad)}")
    return ids


class Settings(SlackCredentials):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    slack_api_url: str = "https://slack.com/api/"
    # Enterprise Grid, org-wide install only: the team where the approver groups in
    # CHIME_APPROVERS live, named on every usergroups.users.list (a workspace T..., or the
    # organization E... for org-level groups). Unset: the organization auth.test names. Ignored
    # with a workspace token (bot/slack/grid.py).
    slack_groups_team_id: str | None = None

    # AWS_REGION (or AWS_DEFAULT_REGION), from the environment or .env. Unset: botocore's own
    # chain decides (the profile's region in ~/.aws/config); load_settings fills in its answer.
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("aws_region", "aws_default_region")
    )

    chime_allowed_channels: Annotated[tuple[str, ...], NoDecode] = ()
    chime_approvers: Annotated[tuple[str, ...], NoDecode] = ()
    chime_approval_channel: str | None = None
    chime_default_account: str | None = None
    # A YAML file of per-account policy (bot/config/policy_file.py); unset: the variables above
    # apply to every account. Read and validated by load_settings, so every command refuses a bad
    # one.
    chime_policy_file: str | None = None
    # The same YAML read from an SSM parameter (name or ARN) at start-up instead, so that it can
    # change without a new image (bot/config/policy_source.py). At most one of the two is set.
    chime_policy_ssm_parameter: str | None = None
    chime_store_url: str | None = None
    chime_request_ttl: int = Field(default=86400, gt=0)
    # How long a claim holds before a sweep settles it by asking Chime (bot/config/lease.py).
    chime_execution_lease: float = Field(default=60.0, gt=0)
    chime_sweep_interval: float = Field(default=60.0, gt=0)
    # Largest offset from AWS's clock at which a replica on DynamoDB still judges deadlines, and
    # their allowance (bot/aws_clock.py). 0: not judged (replicas that share one clock).
    chime_max_clock_skew: float = Field(default=5.0, ge=0, le=300)
    chime_account_cache_ttl: float = Field(default=300.0, ge=0)
    # How long the members of an approver user group are trusted before Slack is asked again.
    # Where subteam_members_changed events arrive, a change applies at once on the replica that
    # gets the event; this bounds how long a removed member keeps the power everywhere else.
    chime_group_cache_ttl: float = Field(default=60.0, ge=0, le=3600)
    # A cold lookup searches every account at once, beside ListAccounts(UserEmail), when the bot
    # knows at most this many accounts: one round trip less, one more ListUsers per account.
    # 0: always the sequential path.
    chime_lookup_parallel_accounts: int = Field(default=5, ge=0, le=50)
    # Chime calls in flight at once (and the HTTP pool size). No threads back them (aiobotocore),
    # so a burst of 200 lookups fits; Chime's throttling is met by the retries, not by this.
    chime_max_concurrency: int = Field(default=256, ge=1, le=1024)
    # Total time one Chime operation of an approval may spend retrying before it fails.
    chime_retry_budget: float = Field(default=20.0, gt=0)
    # The same for what a user waits on (lookups, filing): short, so an outage is answered in 8 s.
    chime_lookup_budget: float = Field(default=6.0, gt=0)
    # Per-attempt socket read timeout. A blocked call also holds up process exit this long.
    chime_read_timeout: float = Field(default=10.0, gt=0)
    chime_max_open_per_requester: int = Field(default=10, ge=1)
    # Seconds a request may wait for a decision before its approvers get one reminder in the
    # card's thread. At or past CHIME_REQUEST_TTL no reminder is sent: the request lapses first.
    chime_remind_after: float = Field(default=4 * 3600.0, gt=0)
    # Different approvers (never the requester) each request needs, 2 being the two-person
    # rule; every account's default until a per-account policy sets it.
    chime_approvals_required: int = Field(default=1, ge=1, le=2)
    # What a Slack deactivation (user_change with `deleted: true`) does to the person's Chime
    # user (bot/approvals/offboarding.py): nothing, a suspension request, or a suspension.
    chime_offboarding: Literal["off", "request", "suspend"] = "off"

    port: int = Field(default=3000, ge=0, le=65535)
    # Set: /metrics is served on this port instead of PORT, so PORT need expose only Slack's.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
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
        return _split_ids(
            value, APPROVER_ID, "Slack user or user-group IDs (like U0123ABCD or S0123ABCD)"
        )

    @field_validator("chime_approval_channel", mode="before")
    @classmethod
    def _approval_channel(cls, value: object) -> str | None:
        if value is None or str(value).strip() == "":
            return None
        text = str(value).strip()
        if not CHANNEL_ID.fullmatch(text):
            raise ValueError(f"not a Slack channel ID (like C0123ABCD): {text}")
        return text

    @field_validator("slack_groups_team_id", mode="before")
    @classmethod
    def _groups_team(cls, value: object) -> str | None:
        text = "" if value is None else str(value).strip()
        if text and not TEAM_OR_ORG_ID.fullmatch(text):
            raise ValueError(
                f"not a Slack workspace or organization ID (like T0123ABCD or E0123ABCD): {text}"
            )
        return text or None

    @field_validator("chime_policy_file", mode="before")
    @classmethod
    def _policy_file(cls, value: object) -> str | None:
        text = "" if value is None else str(value).strip()
        return text or None

    @field_validator("chime_policy_ssm_parameter", mode="before")
    @classmethod
    def _policy_parameter(cls, value: object) -> str | None:
        text = "" if value is None else str(value).strip()
        if text and not PARAMETER.fullmatch(text):
            raise ValueError(f"not an SSM parameter name or ARN (like /chime-bot/policy): {text!r}")
        return text or None

    @field_validator("chime_store_url", mode="before")
    @classmethod
    def _store_url(cls, value: object) -> str | None:
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        try:
            # The store's own parsers, so a URL that passes here is one the store can open.
            if store_table(text) is None:
                parse_store_url(text, data_dir=Path(".chime-bot"))
        except ValueError:
            raise ValueError(
                f"{text!r} is not sqlite:///path/state.db or dynamodb://<table> "
                "(3-255 of A-Z a-z 0-9 _ . -)"
            ) from None
        return text

    @field_validator("aws_region", mode="before")
    @classmethod
    def _region(cls, value: object) -> str | None:
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        if not AWS_REGION.fullmatch(text):
            raise ValueError(f"not an AWS region name (like eu-west-1): {text!r}")
        return text

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> str:
        text = str(value).strip().upper()
        if text not in LOG_LEVELS:
            raise ValueError(f"{str(value)!r} is not one of {', '.join(LOG_LEVELS)}")
        return text

    @field_validator("chime_offboarding", mode="before")
    @classmethod
    def _offboarding(cls, value: object) -> str:
        text = "off" if value is None else str(value).strip().lower()
        if text not in OFFBOARDING_MODES:
            raise ValueError(f"{str(value)!r} is not one of {', '.join(OFFBOARDING_MODES)}")
        return text

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> str | None:
        text = "" if value is None else str(value).strip().lower()
        if text not in ("", "json", "text"):
            raise ValueError(f"{str(value)!r} is not json or text")
        return text or None

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    def data_dir(self) -> Path:
        return Path(".chime-bot")

    @property
    def policy_source(self) -> str | None:
        """Where the per-account policy is read from, for people; None without one."""
        if self.chime_policy_file:
            return self.chime_policy_file
        if self.chime_policy_ssm_parameter:
            return f"SSM parameter {self.chime_policy_ssm_parameter}"
        return None

    def read_policy(self) -> PolicyFile | None:
        """The per-account policy, read now from the file or the SSM parameter (None without
        one); PolicyFileError, one line per problem, if it cannot be read or is invalid."""
        return read_policy(self.chime_policy_file, self.chime_policy_ssm_parameter, self.aws_region)


class ConfigError(Exception):
    """Every configuration problem at once, phrased for the operator."""

    def __init__(self, problems: list[str], *, heading: str | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.heading = heading  # None: environment settings, with where to set them

    def render(self) -> str:
        lines = [self.heading or "chime-bot: configuration problems:"]
        lines += [f"  - {p}" for p in self.problems]
        if self.heading is None:
            lines.append("Set these as environment variables or in a .env file; see README.md.")
        return "\n".join(lines)


def load_settings(mode: Mode, *, socket_mode: bool = False, **overrides: object) -> Settings:
    """Build Settings from the environment, raising ConfigError listing every problem.

    The one validation every command runs (serve, check, demo, console, init-store): a value
    that passes here is one `serve` accepts, and the AWS region is resolved here, once, for
    every regional client.
    """
    try:
        credentials = SlackCredentials(**overrides)  # type: ignore[arg-type]
        location = PolicyFileLocation(**overrides)  # type: ignore[arg-type]
        socket = credentials.wants_socket_mode(socket_mode)
        problems = unknown_variables()
        try:
            settings: Settings | None = Settings(**overrides)  # type: ignore[arg-type]
        except ValidationError as exc:
            settings = None
            problems += [_describe(err) for err in exc.errors()]
    except (OSError, UnicodeDecodeError, SettingsError) as exc:
        # An unreadable or undecodable .env file: say so rather than show a traceback.
        raise ConfigError([f"{ENV_FILE}: cannot be read ({exc})"]) from None
    problems += credentials.problems_for(mode, socket_mode=socket)
    policy_file = (location.chime_policy_file or "").strip()  # as Settings reads it
    if settings is None and policy_file:
        # The other settings are malformed: the file's problems are still told in this run.
        problems += _policy_file_problems(policy_file)
    if settings is not None:
        settings, region_problems = _with_region(settings)
        problems += region_problems
        # After the region: an SSM parameter lives in one.
        problems += _policy_problems(settings)
        call = (settings.chime_retry_budget, settings.chime_read_timeout)
        problems += lease_problems(settings.chime_execution_lease, *call)
        problems += offboarding_problems(
            settings.chime_offboarding, settings.chime_approval_channel
        )
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def _policy_problems(settings: Settings) -> list[str]:
    if settings.chime_policy_file and settings.chime_policy_ssm_parameter:
        return [
            f"CHIME_POLICY_FILE and {SSM_VARIABLE} are both set: the policy comes from one "
            "place; unset one of them"
        ]
    try:
        settings.read_policy()
    except PolicyFileError as exc:
        return exc.problems
    return []


def _policy_file_problems(path: str) -> list[str]:
    try:
        load_policy_file(Path(path))
    except PolicyFileError as exc:
        return exc.problems
    return []


def _with_region(settings: Settings) -> tuple[Settings, list[str]]:
    if settings.aws_region:
        return settings, []
    try:
        region = botocore_region()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist
        return settings, [f"AWS configuration: {exc}"]
    if region is None and store_table(settings.chime_store_url) is not None:
        return settings, [
            "AWS_REGION: not set, and the AWS profile names no region; the DynamoDB store "
            "(CHIME_STORE_URL) needs one, e.g. AWS_REGION=eu-west-1"
        ]
    return settings.model_copy(update={"aws_region": region}), []


def unknown_variables() -> list[str]:
    """One problem per CHIME_* variable (environment or .env) that is not a setting."""
    known = {name.upper() for name in Settings.model_fields}
    names = {n.upper() for n in os.environ}
    if Path(ENV_FILE).is_file():
        names |= {str(n).upper() for n in dotenv_values(ENV_FILE)}
    problems = []
    for name in sorted(n for n in names if n.startswith(OWN_PREFIX) and n not in known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{name}: not a chime-bot setting{hint}")
    return problems


def log_level(settings: Settings, default: str) -> str:
    """LOG_LEVEL when it was set, else the command's own default (the demo is quieter)."""
    return settings.log_level if "log_level" in settings.model_fields_set else default


def _describe(err: object) -> str:
    e = err if isinstance(err, dict) else {}
    field = ".".join(str(p) for p in e.get("loc", ())) or "settings"
    message = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
    shown = e.get("input")
    # Our own validators quote the value; pydantic's messages do not, so add it (never secrets:
    # those are SecretStr, which accepts any text and so never fails here).
    if e.get("type") != "value_error" and isinstance(shown, str | int | float):
        message += f" (got {shown!r})"
    return f"{field.upper()}: {message}"
