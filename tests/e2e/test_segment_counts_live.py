"""`segmentCountsUpdated` through the router: a dashboard gets the shop's segment counts at
once, then the new counts after the nightly recompute."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from websockets.asyncio.client import connect

from subgraphs.analytics.rfm.jobs import recompute_all
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router
from tests.e2e.test_live_dashboards import receive
from tests.subgraphs.analytics.rfm_shops import fact, record

SUBSCRIPTION = "subscription { segmentCountsUpdated { segment customerCount } }"


def _counts(message: dict[str, object]) -> dict[str, int]:
    assert message["type"] == "next", message
    rows = message["payload"]["data"]["segmentCountsUpdated"]  # type: ignore[index]
    return {row["segment"]: int(row["customerCount"]) for row in rows}


async def test_a_dashboard_sees_the_segment_counts_move_after_the_recompute(
    router: Router, resources: Resources, tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    async with connect(router.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
            )
        )
        assert (await receive(socket))["type"] == "connection_ack"
        await socket.send(
            json.dumps({"id": "segments", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        first = _counts(await receive(socket))
        assert set(first.values()) == {0}
        assert "Champions" in first

        # Two recent buyers: New (one order, R5).
        buyers = [await add_customer(resources, tenant) for _ in range(2)]
        await record(
            resources,
            tenant,
            [
                fact(80_000 + n, buyer, now - timedelta(days=1), "40.00")
                for n, buyer in enumerate(buyers)
            ],
        )
        totals = await recompute_all(resources, now=now)
        assert totals["failed"] == 0

        after = _counts(await receive(socket))
    assert after["New"] == 2
    assert sum(after.values()) == 2
