"""Prometheus metrics of every GraphQL operation a subgraph serves."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from subgraphs.kit.observability import OPERATION_ERRORS, OPERATION_SECONDS


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
