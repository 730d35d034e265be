"""Prometheus metrics, on a registry per runtime so that several bots in one process (tests,
the benchmark) never share counters."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0)
E2E_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "chime_bot_commands",
            "Slash commands and button clicks handled",
            ["subcommand", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "chime_bot_ack_seconds",
            "Time from receiving a Slack request to the ack",
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.end_to_end_seconds = Histogram(
            "chime_bot_end_to_end_seconds",
            "Time from a command to its reply being sent",
            ["subcommand"],
            buckets=E2E_BUCKETS,
            registry=self.registry,
        )
        self.chime_calls = Counter(
            "chime_bot_chime_calls",
            "Chime API calls by outcome",
            ["operation", "code"],
            registry=self.registry,
        )
        self.approvals = Counter(
            "chime_bot_approvals",
            "Decided requests by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "chime_bot_pending_requests", "Requests awaiting a decision", registry=self.registry
        )
        self.breaker = Gauge(
            "chime_bot_chime_breaker_state",
            "The circuit breaker around Chime: 0 closed, 1 half-open (probing), 2 open",
            registry=self.registry,
        )

        self.clock_offset = Gauge(
            "chime_bot_clock_offset_seconds",
            "This replica's clock minus AWS's, from the Date of AWS's answers (NaN: not "
            "measured yet); beyond CHIME_MAX_CLOCK_SKEW a replica on DynamoDB decides nothing",
            registry=self.registry,
        )
        self.clock_offset.set(float("nan"))

    def command(
        self, subcommand: str, outcome: str, seconds: float, *, replied_later: bool
    ) -> None:
        self.commands.labels(subcommand, outcome).inc()
        if replied_later:
            self.end_to_end_seconds.labels(subcommand).observe(seconds)

    def chime_call(self, operation: str, code: str) -> None:
        self.chime_calls.labels(operation, code).inc()

    def breaker_state(self, state: int) -> None:
        self.breaker.set(state)

    def approval(self, outcome: str) -> None:
        self.approvals.labels(outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
