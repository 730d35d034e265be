"""Amazon Chime, outbound: the `Directory` the workflow asks, the call and retry engine behind it,
the client factory, what each failure means, the circuit breaker, lookups, choosing an account,
CreateUser exactly once, and the user lifecycle's calls and their typed answers.
"""

from bot.chime.accounts import DIRECTORY_ACCOUNTS, choose_account
from bot.chime.breaker import BreakerState, CircuitBreaker
from bot.chime.calls import INTERACTIVE_BUDGET, CallObserver, Calls, RetryPolicy
from bot.chime.client import CHIME_REGION, chime_client
from bot.chime.create_once import create_once
from bot.chime.directory import Directory
from bot.chime.errors import classify, is_outage
from bot.chime.lifecycle import (
    MAX_BATCH_USERS,
    BatchOutcome,
    PinReset,
    SecretPin,
    UserError,
    UserState,
)
from bot.chime.lifecycle_calls import UserLifecycle

__all__ = [
    "CHIME_REGION",
    "DIRECTORY_ACCOUNTS",
    "INTERACTIVE_BUDGET",
    "MAX_BATCH_USERS",
    "BatchOutcome",
    "BreakerState",
    "CallObserver",
    "Calls",
    "CircuitBreaker",
    "Directory",
    "PinReset",
    "RetryPolicy",
    "SecretPin",
    "UserError",
    "UserLifecycle",
    "UserState",
    "chime_client",
    "choose_account",
    "classify",
    "create_once",
    "is_outage",
]
