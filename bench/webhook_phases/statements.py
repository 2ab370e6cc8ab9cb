"""(d) SQL statements per delivery at the shim and per order in the worker, counted in this
process on a sample: the shim's app over an in-process transport, then the worker's
process_delivery on the rows it stored. Runs with the worker process stopped."""

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
from worker.webhooks.processing import DeliveryOutcome, process_delivery

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
    in_worker: int

    def section(self) -> list[str]:
        return [
            f"(d) SQL statements, counted in-process on {self.deliveries} more deliveries",
            f"    per delivery at the shim {self.at_shim / self.deliveries:5.1f}"
            f"   per order in the worker {self.in_worker / self.deliveries:5.1f}",
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
        with count_statements(resources.engine) as in_worker:
            for delivery_id in pending:
                outcome = await process_delivery(resources, stack.merchant_id, delivery_id)
                if outcome is not DeliveryOutcome.DONE:
                    raise RuntimeError(f"sample delivery {delivery_id}: {outcome}")
    return Statements(len(sample), at_shim.count, in_worker.count)
