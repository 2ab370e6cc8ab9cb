"""Structured logs and Prometheus metrics shared by every subgraph."""

from __future__ import annotations

import logging

import structlog
from prometheus_client import Counter, Gauge, Histogram

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

# Every cache, by name and outcome (hit, miss, or unavailable: Redis did not answer in time,
# the value was loaded from Postgres), so a cache that stopped hitting shows on a dashboard.
CACHE_LOOKUPS = Counter(
    "loyalnest_cache_lookups_total",
    "Cache lookups by cache and outcome (hit, miss, unavailable)",
    ["cache", "outcome"],
)
LIVE_SUBSCRIBERS = Gauge(
    "loyalnest_live_subscribers",
    "Subscriptions open on this subgraph's sockets",
    ["subgraph"],
)
LIVE_STREAMS = Gauge(
    "loyalnest_live_streams",
    "Executions serving those subscriptions (identical ones on one socket share one)",
    ["subgraph"],
)
# From an event reaching a hub to its snapshot offered to every local subscriber: the read
# that one event costs, whatever the number of subscribers.
FANOUT_SECONDS = Histogram(
    "loyalnest_fanout_seconds",
    "From an event on the bus to its snapshot computed and offered to every subscriber",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
# From a shared stream's result to its last subscriber's message written to the socket.
LIVE_SEND_SECONDS = Histogram(
    "loyalnest_live_send_seconds",
    "From one subscription result to its message sent to every subscriber of it",
    ["subgraph"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)


# The worker's webhook batches (worker/webhooks): how long a delivery waited for a worker once
# it was due (accepted by the shim, or its retry time came), and how many deliveries a batch
# took in one transaction. A growing delay with batches at their cap means add workers.
WORKER_QUEUE_DELAY_SECONDS = Histogram(
    "loyalnest_worker_queue_delay_seconds",
    "From a webhook delivery being due to a worker claiming it",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
WORKER_BATCH_SIZE = Histogram(
    "loyalnest_worker_batch_size",
    "Webhook deliveries processed in one transaction",
    buckets=(1, 2, 5, 10, 20, 50),
)
# Whether the worker hears the inbox's notifications (worker/webhooks/wakeups.py): at 0 new
# deliveries wait for the sweeper (tens of seconds), so alert on it staying 0.
WORKER_INBOX_LISTENING = Gauge(
    "loyalnest_worker_inbox_listening",
    "1 while the worker listens for new webhook deliveries, 0 while it reconnects",
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
