"""(d) SQL statements per delivery at the shim and per order in the worker, counted in this
process on a sample: the shim's app over an in-process transport, then the worker on the rows
it stored: half one at a time (process_delivery), half as one batch (process_deliveries, as a
wake-up takes them). Runs with the worker process stopped."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from harness import count_statements
from sqlalchemy import text

# The project's code: these paths move with it.
from db.session import system_unit_of_work
from gateway.edge.app import create_edge_app
from subgraphs.kit.resources import open_resources
from subgraphs.kit.settings import Settings
from worker.webhooks.processing import DeliveryOutcome, process_deliveries, process_delivery

from .deliveries import SendResult, post
from .stack import Stack

SAMPLE = 50
SETTINGS_FROM_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "LOYALNEST_ENCRYPTION_KEYS",
    "LOYALNEST_BLIND_INDEX_KEY",
    "SHOPIFY_API_SECRET",
    "SHOPIFY_API_KEY",
    "LOYALNEST_DATA_DIR",
)


@dataclass
class Statements:
    deliveries: int
    at_shim: int
    alone: int
    in_worker_alone: int
    batched: int
    in_worker_batched: int

    def section(self) -> list[str]:
        return [
            f"(d) SQL statements, counted in-process on {self.deliveries} more deliveries",
            f"    per delivery at the shim {self.at_shim / self.deliveries:5.1f}"
            f"   per order in the worker {self.in_worker_alone / self.alone:5.1f} alone,"
            f" {self.in_worker_batched / self.batched:4.1f} in a batch of {self.batched}",
        ]


async def run(stack: Stack) -> Statements:
    sample = stack.deliveries(SAMPLE)
    settings = Settings.model_validate({name: stack.env[name] for name in SETTINGS_FROM_ENV})
    async with open_resources(settings, live=False) as resources:
        transport = httpx.ASGITransport(app=create_edge_app(resources=resources))
        sent = SendResult()
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
            with count_statements(resources.engine) as at_shim:
                for delivery in sample:
                    await post(http, delivery, sent)
        if sent.accepted != len(sample):
            raise RuntimeError(f"sample delivery rejected: {sent.first_error}")
        async with system_unit_of_work(resources.sessions) as session:
            query = "SELECT id FROM api_logs WHERE status = 'pending' ORDER BY created_at"
            pending = list(await session.scalars(text(query)))
        alone, batched = pending[: len(pending) // 2], pending[len(pending) // 2 :]
        with count_statements(resources.engine) as in_worker_alone:
            for delivery_id in alone:
                outcome = await process_delivery(resources, stack.merchant_id, delivery_id)
                if outcome is not DeliveryOutcome.DONE:
                    raise RuntimeError(f"sample delivery {delivery_id}: {outcome}")
        with count_statements(resources.engine) as in_worker_batched:
            outcomes = await process_deliveries(resources, stack.merchant_id, batched)
        if set(outcomes.values()) != {DeliveryOutcome.DONE}:
            raise RuntimeError(f"sample batch: {outcomes}")
    return Statements(
        len(sample),
        at_shim.count,
        len(alone),
        in_worker_alone.count,
        len(batched),
        in_worker_batched.count,
    )
