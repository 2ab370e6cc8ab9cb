"""Structured logs and Prometheus metrics shared by every subgraph."""

from __future__ import annotations

import logging

import structlog
from prometheus_client import Counter, Histogram

OPERATION_SECONDS = Histogram(
    "loyalnest_graphql_operation_seconds",
    "Time to execute one GraphQL operation",
    ["subgraph", "operation_type"],
)
OPERATION_ERRORS = Counter(
    "loyalnest_graphql_operation_errors_total",
    "GraphQL operations answered with errors",
    ["subgraph"],
)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", level=level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
    )
