"""The refunds of a batch of backfilled orders, read from the Admin API as refunds/create
delivers them, so the backfill records them through the webhook's own path
(``analytics.orders.record_refund_payload``, once per refund id).

The bulk file names each order's refunds (``records.orders_query``); their line items cannot
come in it (a connection inside a list field), so they are read here, a few refunds per query,
and read on page by page for a refund with more lines than a page. Called before the batch's
transaction opens: no transaction waits on Shopify.
"""

from __future__ import annotations

from typing import Any

from subgraphs.kit.integrations.shopify_admin import ShopifyAdminClient, ShopifyAdminError
from subgraphs.kit.integrations.shopify_bulk import BulkRecord
from worker.shopify_backfill.records import (
    REFUND_LINES_QUERY,
    REFUND_MORE_LINES_QUERY,
    REFUNDS_PER_QUERY,
    refund_ids_of_line,
    refund_payload,
)


def _lines_page(refund: dict[str, Any]) -> tuple[list[Any], str | None]:
    """A page of a refund's line items, and the cursor after it when there are more."""
    connection = refund.get("refundLineItems")
    if not isinstance(connection, dict):
        raise ShopifyAdminError(f"refund {refund.get('id')!r} came without its line items")
    page_info = connection.get("pageInfo") or {}
    after = page_info.get("endCursor") if page_info.get("hasNextPage") else None
    return list(connection.get("nodes") or []), after


async def _all_lines(client: ShopifyAdminClient, refund: dict[str, Any]) -> list[Any]:
    lines, after = _lines_page(refund)
    while after is not None:
        data = await client.execute(REFUND_MORE_LINES_QUERY, {"id": refund["id"], "after": after})
        node = data.get("node")
        if not isinstance(node, dict):
            raise ShopifyAdminError(f"refund {refund['id']!r} is gone")
        more, after = _lines_page(node)
        lines.extend(more)
    return lines


async def refund_payloads(
    client: ShopifyAdminClient, batch: list[BulkRecord]
) -> list[dict[str, Any]]:
    """Every refund of the batch's orders as refunds/create would carry it, in file order."""
    order_of = {
        refund_id: record.node for record in batch for refund_id in refund_ids_of_line(record.node)
    }
    wanted = list(order_of)
    payloads = []
    for first in range(0, len(wanted), REFUNDS_PER_QUERY):
        ids = wanted[first : first + REFUNDS_PER_QUERY]
        data = await client.execute(REFUND_LINES_QUERY, {"ids": ids, "after": None})
        found = {
            node["id"]: node
            for node in data.get("nodes") or []
            if isinstance(node, dict) and node.get("id")
        }
        for refund_id in ids:
            # A refund gone since the file was built (an order deleted) has nothing to net.
            if (refund := found.get(refund_id)) is not None:
                lines = await _all_lines(client, refund)
                payloads.append(refund_payload(order_of[refund_id], refund, lines))
    return payloads
