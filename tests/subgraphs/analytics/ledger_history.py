"""Ledger history for the analytics tests: earning at a moment of the scenario's past.

The ledger stamps its rows with Postgres' clock; a scenario that happened over months dates
them afterwards, on the owner's connection, as a data migration would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from subgraphs.kit.resources import Resources
from subgraphs.points.ledger import service as ledger
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel


async def happened_at(resources: Resources, merchant_id: str, at: datetime) -> None:
    """Dates the merchant's ledger rows and redemptions just written (stamped by Postgres'
    clock) at ``at`` in the scenario's past."""
    just_now = datetime.now(UTC) - timedelta(hours=1)
    async with resources.engine.begin() as connection:
        for table in ("points_transactions", "reward_redemptions"):
            await connection.execute(
                text(
                    f"UPDATE {table} SET created_at = :at"  # noqa: S608
                    " WHERE merchant_id = :merchant_id AND created_at > :just_now"
                ),
                {"at": at, "merchant_id": merchant_id, "just_now": just_now},
            )


def purchase(customer_id: str, dollars: str, at: datetime) -> ledger.EarnCommand:
    order_id = f"earn-{customer_id}-{at.timestamp()}"
    order = Order(
        order_id, "USD", (OrderLine(f"{order_id}-1", 1, Decimal(dollars)),), Channel.ONLINE, at
    )
    return ledger.EarnCommand(customer_id, EarnAction.PURCHASE, f"order:{order_id}", order)
