"""Test and benchmark knobs: injected faults, added latency, and the record of calls.

Tests poke these from their own thread while the server runs on another loop, so every access
goes through one lock, and nothing here ever awaits while holding it.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .errors import ERRORS

OPERATIONS = (
    "ListAccounts",
    "ListUsers",
    "GetUser",
    "CreateUser",
    "InviteUsers",
    "BatchSuspendUser",
    "BatchUnsuspendUser",
    "LogoutUser",
    "ResetPersonalPIN",
    "UpdateUser",
)
FOREVER = -1
# Not a Chime error: a 200 whose body is not JSON, as from a misbehaving proxy. The SDK cannot
# parse it, which is how tests reach the bot's handling of truly unexpected failures.
GARBLED = "GarbledResponse"
# Not Chime errors either: the transport fails instead of the service answering. With
# `applied=True` they model a call that took effect and whose answer was lost on the way back.
RESET = "ConnectionReset"  # the connection is dropped with no response at all
STALL = "Stall"  # no response within any client's read timeout (held `hold` s, then dropped)
TRANSPORT_FAULTS = (GARBLED, RESET, STALL)
# Any error name AWS could send in x-amzn-ErrorType: modeled Chime shapes come with their status
# from the model; others (front-door errors such as ExpiredTokenException, or throttling codes
# the Chime model does not list) need an explicit status.
_ERROR_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,127}")


@dataclass(frozen=True)
class Fault:
    """Makes the next ``times`` calls of an operation fail with ``error`` (-1: every call)."""

    error: str
    times: int = 1
    message: str = "injected fault"
    # True: the operation takes effect and only then is the error returned, like a response lost
    # after the service acted. Retries then meet the effect of the first attempt.
    applied: bool = False
    # The HTTP status to send: required for an error outside the model, optional otherwise.
    http_status: int | None = None
    hold: float = 30.0  # STALL only: seconds before the connection is dropped

    def __post_init__(self) -> None:
        modeled = self.error in ERRORS or self.error in TRANSPORT_FAULTS
        if not modeled and (self.http_status is None or not _ERROR_NAME.fullmatch(self.error)):
            raise ValueError(
                f"unknown error {self.error!r}: give http_status for an error outside the "
                f"model, or use one of {list(ERRORS)}"
            )
        if self.http_status is not None and not 400 <= self.http_status <= 599:
            raise ValueError("http_status must be an error status, 400-599")
        if self.error in TRANSPORT_FAULTS and self.http_status is not None:
            raise ValueError(f"{self.error} sends no error status")
        if self.times != FOREVER and self.times < 1:
            raise ValueError("times must be >= 1, or -1 for forever")
        if self.hold < 0:
            raise ValueError("hold must be >= 0 seconds")

    @property
    def status(self) -> int:
        if self.http_status is not None:
            return self.http_status
        return ERRORS[self.error].status if self.error in ERRORS else 200


@dataclass(frozen=True)
class Call:
    operation: str
    params: dict[str, Any]
    region: str
    status: int


@dataclass
class _Budget:
    """A fault or a latency that applies to a limited number of calls."""

    value: Any
    remaining: int


def check_operation(operation: str) -> str:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; expected one of {OPERATIONS}")
    return operation


def _check_seconds(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("latency must be >= 0 seconds")
    return float(seconds)


def _take(queue: deque[_Budget]) -> Any:
    """Uses one charge of the head of ``queue``, dropping it once spent."""
    if not queue:
        return None
    head = queue[0]
    if head.remaining != FOREVER:
        head.remaining -= 1
        if head.remaining == 0:
            queue.popleft()
    return head.value


@dataclass
class Controls:
    latency: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _faults: dict[str, deque[_Budget]] = field(default_factory=dict, repr=False)
    _op_latency: dict[str, float] = field(default_factory=dict, repr=False)
    _one_shot_latency: dict[str, deque[_Budget]] = field(default_factory=dict, repr=False)
    _calls: list[Call] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.latency = _check_seconds(self.latency)

    def inject(self, operation: str, fault: Fault) -> None:
        with self._lock:
            queue = self._faults.setdefault(check_operation(operation), deque())
            queue.append(_Budget(fault, fault.times))

    def clear_faults(self, operation: str | None = None) -> None:
        with self._lock:
            if operation is None:
                self._faults.clear()
            else:
                self._faults.pop(check_operation(operation), None)

    def take_fault(self, operation: str) -> Fault | None:
        with self._lock:
            fault: Fault | None = _take(self._faults.get(operation, deque()))
            return fault

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        seconds = _check_seconds(seconds)
        with self._lock:
            if operation is None:
                self.latency = seconds
            else:
                self._op_latency[check_operation(operation)] = seconds

    def latency_for(self, operation: str, seconds: float, times: int) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        budget = _Budget(_check_seconds(seconds), times)
        with self._lock:
            self._one_shot_latency.setdefault(check_operation(operation), deque()).append(budget)

    def take_latency(self, operation: str) -> float:
        """The delay for this call: a pending one-shot, else the operation's, else the global."""
        with self._lock:
            one_shot = _take(self._one_shot_latency.get(operation, deque()))
            if one_shot is not None:
                return float(one_shot)
            return self._op_latency.get(operation, self.latency)

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self, operation: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if operation is None or c.operation == operation]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()
