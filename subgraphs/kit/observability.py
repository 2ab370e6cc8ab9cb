"""Structured logs and Prometheus metrics shared by every subgraph."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import structlog
from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension

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


def metrics_extension(subgraph: str) -> type[SchemaExtension]:
    class OperationMetrics(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            started = time.perf_counter()
            yield
            context = self.execution_context
            operation_type = context.operation_type.value if context.operation_type else "unknown"
            OPERATION_SECONDS.labels(subgraph, operation_type).observe(
                time.perf_counter() - started
            )
            if context.result is not None and getattr(context.result, "errors", None):
                OPERATION_ERRORS.labels(subgraph).inc()

    return OperationMetrics
