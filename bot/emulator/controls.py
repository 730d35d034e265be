"""Test and benchmark knobs: injected faults, added latency, and the record of calls.

Tests poke these from their own thread while the server runs on another loop, so every access
goes through one lock, and nothing here ever awaits while holding it.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .errors import ERRORS

OPERATIONS = ("ListAccounts", "ListUsers", "GetUser", "CreateUser", "InviteUsers")
FOREVER = -1
# Not a Chime error: a 200 whose body is not JSON, as from a misbehaving proxy. The SDK cannot
# parse it, which is how tests reach the bot's handling of truly unexpected failures.
GARBLED = "GarbledResponse"


@dataclass(frozen=True)
class Fault:
    """Makes the next ``times`` calls of an operation fail with ``error`` (-1: every call)."""

    error: str
    times: int = 1
    message: str = "injected fault"
    # True: the operation takes effect and only then is the error returned, like a response lost
    # after the service acted. Retries then meet the effect of the first attempt.
    applied: bool = False

    def __post_init__(self) -> None:
        if self.error not in ERRORS and self.error != GARBLED:
            raise ValueError(f"unknown error {self.error!r}; expected one of {list(ERRORS)}")
        if self.times != FOREVER and self.times < 1:
            raise ValueError("times must be >= 1, or -1 for forever")

    @property
    def status(self) -> int:
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
