"""The dependencies every handler receives, built once by the composition root (`bot.app`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.approvals.engine import Approvals
from bot.approvals.home import Home
from bot.chime.directory import Directory
from bot.clock import Clock, RealClock
from bot.config.settings import Settings
from bot.jobs import Jobs
from bot.metrics import Metrics
from bot.policy.approvers import Approvers
from bot.policy.authz import Policy
from bot.slack.replies import Responder


@dataclass(frozen=True)
class Deps:
    settings: Settings
    policy: Policy
    directory: Directory
    responder: Responder
    jobs: Jobs
    approvals: Approvals
    metrics: Metrics
    approvers: Approvers  # the policy's approvers with their user groups expanded
    clock: Clock = field(default_factory=RealClock)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("chime_bot"))
    home: Home | None = None  # App Home publishing (bot/approvals/home.py); None: no Home tab
