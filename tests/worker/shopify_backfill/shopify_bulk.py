"""A recorded Shopify bulk export (customers and two years of orders, ``recorded/``) served the
way Shopify serves it: ``bulkOperationRunQuery`` and ``node(id:)`` on the Admin GraphQL API,
and the JSONL result at a signed storage URL, all through respx (Shopify is third-party). The
orders' refunds' line items (``recorded/refunds.json``: each refund's pages of
``refundLineItems``) answer ``nodes(ids:)`` and, for later pages, ``node(id:)``.

The files were recorded on ``RECORDED_AT``; every timestamp in them is shifted by the time
since, so recency (and so each customer's RFM segment) is what it was that day."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import respx
from arq.constants import default_queue_name, job_key_prefix

from subgraphs.admin.backfill.service import backfill_job_id
from subgraphs.kit.resources import Resources

RECORDED = Path(__file__).parent / "recorded"
RECORDED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
STORAGE = "https://storage.googleapis.com/shopify-tiers-assets-prod-us-east1/bulk-operation-outputs"
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_COST = {
    "requestedQueryCost": 10,
    "actualQueryCost": 10,
    "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 1990, "restoreRate": 100},
}


# One shift for the whole run, so every read of a file (and every file) agrees.
_SHIFT = datetime.now(UTC) - RECORDED_AT


def recorded_refunds() -> dict[str, Any]:
    """Refund id -> its legacy id and its pages of line items."""
    recorded: dict[str, Any] = json.loads((RECORDED / "refunds.json").read_text())
    return recorded


def _refund_page(refund_id: str, page: int) -> dict[str, Any]:
    refund = recorded_refunds()[refund_id]
    more = page + 1 < len(refund["pages"])
    return {
        "id": refund_id,
        "legacyResourceId": refund["legacyResourceId"],
        "refundLineItems": {
            "pageInfo": {"hasNextPage": more, "endCursor": f"page-{page + 1}" if more else None},
            "nodes": refund["pages"][page],
        },
    }


def recorded_lines(name: str) -> list[str]:
    """The recorded file's lines, every timestamp moved forward to today."""
    shift = _SHIFT

    def moved(match: re.Match[str]) -> str:
        stamp = datetime.fromisoformat(match.group().replace("Z", "+00:00")) + shift
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")

    text = (RECORDED / f"{name}.jsonl").read_text()
    return [_STAMP.sub(moved, line) + "\n" for line in text.splitlines()]


class BrokenOffStream(httpx.AsyncByteStream):
    """A download whose connection drops after ``lines`` lines."""

    def __init__(self, lines: list[str], after: int) -> None:
        self._lines, self._after = lines, after

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for line in self._lines[: self._after]:
            yield line.encode()
        raise httpx.ReadError("connection reset by peer")


@dataclass
class ShopifyBulk:
    """Shopify's side of two bulk operations. Each starts RUNNING and completes on the next
    poll; ``throttle_first`` answers the first Admin API calls with a 429 and a THROTTLED
    error; ``break_after[name]`` drops that file's next download after so many lines."""

    router: respx.MockRouter
    shop_domain: str
    throttle_first: bool = False
    break_after: dict[str, int] = field(default_factory=dict)
    # The error code every operation fails with, when set.
    fail_with: str | None = None
    # A job that crashed before recording its operation left this one running on the shop.
    left_running: str | None = None
    started: list[str] = field(default_factory=list)
    polls: int = 0
    # Refund ids asked for, per query (nodes(ids:) and node(id:) for later pages).
    refunds_read: list[list[str]] = field(default_factory=list)
    downloads: dict[str, int] = field(default_factory=dict)
    _status: dict[str, str] = field(default_factory=dict)
    _throttled: list[str] = field(default_factory=lambda: ["429", "THROTTLED"])
    _left_query: str | None = None
    _left_id: str = ""

    def install(self) -> ShopifyBulk:
        self.router.post(f"https://{self.shop_domain}/admin/api/2025-10/graphql.json").mock(
            side_effect=self._graphql
        )
        self.router.get(url__startswith=STORAGE).mock(side_effect=self._download)
        return self

    def _graphql(self, request: httpx.Request) -> httpx.Response:
        if self.throttle_first and self._throttled:
            if self._throttled.pop(0) == "429":
                return httpx.Response(429, headers={"Retry-After": "0"}, text="Too many requests")
            cost = {
                "requestedQueryCost": 10,
                "throttleStatus": {
                    "maximumAvailable": 2000,
                    "currentlyAvailable": 0,
                    "restoreRate": 100,
                },
            }
            return httpx.Response(
                200,
                json={
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    "extensions": {"cost": cost},
                },
            )
        body = json.loads(request.content)
        data: dict[str, Any]
        if "LoyalNestRefundLines" in body["query"]:
            ids = body["variables"]["ids"]
            self.refunds_read.append(ids)
            data = {"nodes": [_refund_page(refund_id, 0) for refund_id in ids]}
        elif "LoyalNestRefundMoreLines" in body["query"]:
            refund_id, after = body["variables"]["id"], body["variables"]["after"]
            self.refunds_read.append([refund_id])
            data = {"node": _refund_page(refund_id, int(after.removeprefix("page-")))}
        elif "currentBulkOperation" in body["query"]:
            data = {"currentBulkOperation": None}
            if self._left_query is not None:
                current = {**self._operation(self._left_id), "query": self._left_query}
                data = {"currentBulkOperation": current}
        elif (
            "bulkOperationRunQuery" in body["query"]
            and self._left_query is None
            and (self.left_running is not None)
        ):
            # The crashed job's start: Shopify accepted it, nobody recorded its id.
            self._left_query = body["variables"]["query"]
            self._left_id = f"gid://shopify/BulkOperation/0{self.left_running}"
            self._status[self._left_id] = "RUNNING"
            self.started.append(self.left_running)
            data = {
                "bulkOperationRunQuery": {
                    "bulkOperation": None,
                    "userErrors": [
                        {
                            "field": None,
                            "message": "A bulk query operation for this app and shop is "
                            "already in progress.",
                            "code": "OPERATION_IN_PROGRESS",
                        }
                    ],
                }
            }
        elif "bulkOperationRunQuery" in body["query"]:
            name = "customers" if "customers {" in body["variables"]["query"] else "orders"
            self.started.append(name)
            operation_id = f"gid://shopify/BulkOperation/{len(self.started)}{name}"
            self._status[operation_id] = "CREATED"
            data = {
                "bulkOperationRunQuery": {
                    "bulkOperation": self._operation(operation_id),
                    "userErrors": [],
                }
            }
        else:
            self.polls += 1
            operation_id = body["variables"]["id"]
            # Running when first asked, complete the next time.
            finished = "FAILED" if self.fail_with else "COMPLETED"
            self._status[operation_id] = (
                finished if self._status[operation_id] == "RUNNING" else "RUNNING"
            )
            data = {"node": self._operation(operation_id)}
        return httpx.Response(200, json={"data": data, "extensions": {"cost": _COST}})

    def _operation(self, operation_id: str) -> dict[str, Any]:
        status = self._status[operation_id]
        name = operation_id.rsplit("/", 1)[1].lstrip("0123456789")
        done = status == "COMPLETED"
        return {
            "id": operation_id,
            "status": status,
            "errorCode": self.fail_with if status == "FAILED" else None,
            "objectCount": str(len(recorded_lines(name))) if done else "0",
            "url": f"{STORAGE}/{operation_id.rsplit('/', 1)[1]}.jsonl?X-Goog-Signature=abc"
            if done
            else None,
        }

    def _download(self, request: httpx.Request) -> httpx.Response:
        name = "customers" if "customers" in request.url.path else "orders"
        self.downloads[name] = self.downloads.get(name, 0) + 1
        lines = recorded_lines(name)
        if (after := self.break_after.pop(name, None)) is not None:
            return httpx.Response(200, stream=BrokenOffStream(lines, after))
        return httpx.Response(200, content="".join(lines).encode())


@contextmanager
def mocked_shopify(shop_domain: str, **options: Any) -> Iterator[ShopifyBulk]:
    with respx.mock(assert_all_called=False) as router:
        yield ShopifyBulk(router, shop_domain, **options).install()


async def drop_queued_job(resources: Resources, merchant_id: str) -> None:
    """Take a backfill job a test queued off the queue: no worker of another test may run it
    (it would call the shop's real Admin API)."""
    job_id = backfill_job_id(merchant_id)
    await resources.redis.zrem(default_queue_name, job_id)
    await resources.redis.delete(job_key_prefix + job_id)
