"""Shopify Admin API bulk queries: start one, follow it, and read its JSONL result.

A bulk query (``bulkOperationRunQuery``) runs on Shopify's side and ends with a JSONL file at
a signed URL (valid seven days): one JSON object per line, and the nodes of a nested connection
on their own lines after their parent, naming it in ``__parentId``. Starting and polling go
through ``ShopifyAdminClient.execute``, so they get its THROTTLED waits, retries and circuit
breaker; the download is a plain GET of the signed URL (not the Admin API: no token, no cost
points) with the shared retry policy before the first byte.

Reading resumes by line: ``bulk_records(..., skip_lines=n)`` skips the first ``n`` lines, and
every record says the line it ends on, so a caller that stores that number with what it wrote
continues after a crash exactly where its last commit stopped.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from subgraphs.kit.integrations.http_retries import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    TransientResponseError,
    call_with_retries,
    raise_for_transient,
)
from subgraphs.kit.integrations.shopify_admin import (
    ShopifyAdminClient,
    ShopifyAdminError,
    ShopifyUnavailableError,
    ShopifyUserErrors,
)


class BulkOperationStatus(enum.StrEnum):
    """Shopify's ``BulkOperationStatus``."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"

    @property
    def finished(self) -> bool:
        return self not in (self.CREATED, self.RUNNING, self.CANCELING)


@dataclass(frozen=True, slots=True)
class BulkOperation:
    id: str
    status: BulkOperationStatus
    # None while running, and for a completed operation that found nothing.
    url: str | None = None
    error_code: str | None = None
    object_count: int = 0
    # The query it runs (read back by ``current_bulk_operation`` only).
    query: str | None = None


@dataclass(frozen=True, slots=True)
class BulkRecord:
    """One top-level object of a result, its nested nodes (``children``, in file order), and
    the number of the last line it occupies (1-based): resume after it with ``skip_lines``."""

    node: dict[str, Any]
    end_line: int
    children: list[dict[str, Any]] = field(default_factory=list)


_OPERATION_FIELDS = "id status errorCode objectCount url"
RUN_BULK_QUERY = f"""
mutation LoyalNestBulkQuery($query: String!) {{
  bulkOperationRunQuery(query: $query) {{
    bulkOperation {{ {_OPERATION_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
CURRENT_BULK_OPERATION = f"""
query LoyalNestCurrentBulkOperation {{
  currentBulkOperation(type: QUERY) {{ {_OPERATION_FIELDS} query }}
}}"""
BULK_OPERATION = f"""
query LoyalNestBulkOperation($id: ID!) {{
  node(id: $id) {{ ... on BulkOperation {{ {_OPERATION_FIELDS} }} }}
}}"""


def _operation(node: object) -> BulkOperation:
    if not isinstance(node, dict) or not node.get("id"):
        raise ShopifyAdminError("Shopify returned no bulk operation")
    try:
        status = BulkOperationStatus(node["status"])
    except (KeyError, ValueError) as exc:
        raise ShopifyAdminError(f"unknown bulk operation status: {node.get('status')!r}") from exc
    return BulkOperation(
        id=str(node["id"]),
        status=status,
        url=node.get("url") or None,
        error_code=node.get("errorCode"),
        object_count=int(node.get("objectCount") or 0),
        query=node.get("query"),
    )


async def run_bulk_query(client: ShopifyAdminClient, query: str) -> BulkOperation:
    """Start a bulk query. A shop runs one at a time: starting another while one runs is
    refused with ``ShopifyUserErrors`` (code ``OPERATION_IN_PROGRESS``)."""
    data = await client.execute(RUN_BULK_QUERY, {"query": query})
    result = data.get("bulkOperationRunQuery")
    if not isinstance(result, dict):
        raise ShopifyAdminError("bulkOperationRunQuery returned nothing")
    if user_errors := result.get("userErrors") or []:
        raise ShopifyUserErrors(
            [str(error.get("message")) for error in user_errors],
            [error.get("code") for error in user_errors],
        )
    return _operation(result.get("bulkOperation"))


async def current_bulk_operation(client: ShopifyAdminClient) -> BulkOperation | None:
    """This app's most recent bulk query on the shop, if any: the one a start that crashed
    before recording its id left running."""
    data = await client.execute(CURRENT_BULK_OPERATION)
    node = data.get("currentBulkOperation")
    return None if node is None else _operation(node)


async def bulk_operation(client: ShopifyAdminClient, operation_id: str) -> BulkOperation:
    """Where a bulk operation stands now (by id, so another app's or a newer one's state
    never gets mistaken for ours, as ``currentBulkOperation`` could)."""
    data = await client.execute(BULK_OPERATION, {"id": operation_id})
    return _operation(data.get("node"))


async def _open_download(http: httpx.AsyncClient, url: str, policy: RetryPolicy) -> httpx.Response:
    async def attempt() -> httpx.Response:
        response = await http.send(http.build_request("GET", url), stream=True)
        try:
            return raise_for_transient(response)
        except TransientResponseError:
            await response.aclose()
            raise

    try:
        response = await call_with_retries(attempt, policy)
    except (TransientResponseError, httpx.TransportError) as exc:
        raise ShopifyUnavailableError(f"bulk result download failed: {exc!r}") from exc
    if response.is_error:
        await response.aclose()
        # An expired signed URL answers 403: the operation has to run again.
        raise ShopifyAdminError(f"bulk result download answered {response.status_code}")
    return response


async def bulk_records(
    http: httpx.AsyncClient,
    url: str,
    *,
    skip_lines: int = 0,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> AsyncIterator[BulkRecord]:
    """The result's top-level objects with their nested nodes, from line ``skip_lines + 1``.

    A record is yielded once its last line is read (the next parent, or the end of the file,
    says so), so ``end_line`` never splits a parent from its children. A connection that
    drops midway raises ``ShopifyUnavailableError``; what was yielded before stays valid."""
    response = await _open_download(http, url, policy)
    pending: BulkRecord | None = None
    line_number = 0
    try:
        async for line in response.aiter_lines():
            line_number += 1
            if line_number <= skip_lines or not line.strip():
                continue
            node = orjson.loads(line)
            if not isinstance(node, dict):
                raise ShopifyAdminError(f"bulk result line {line_number} is not an object")
            if "__parentId" in node and pending is not None:
                pending.children.append(node)
                pending = BulkRecord(pending.node, line_number, pending.children)
                continue
            if pending is not None:
                yield pending
            pending = BulkRecord(node, line_number)
    except httpx.TransportError as exc:
        raise ShopifyUnavailableError(f"bulk result download broke off: {exc!r}") from exc
    except orjson.JSONDecodeError as exc:
        raise ShopifyAdminError(f"bulk result line {line_number} is not JSON") from exc
    finally:
        await response.aclose()
    if pending is not None:
        yield pending
