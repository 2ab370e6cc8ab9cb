"""Reading a bulk query's JSONL result: nested nodes come after their parent naming it in
``__parentId`` and are handed over with it; a resumed read starts after the lines already
written; the signed URL's hiccups are retried, its expiry is final."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from subgraphs.kit.integrations.http_retries import RetryPolicy
from subgraphs.kit.integrations.shopify_admin import ShopifyAdminError
from subgraphs.kit.integrations.shopify_bulk import BulkRecord, bulk_records

URL = "https://storage.googleapis.com/bulk-operation-outputs/1.jsonl?X-Goog-Signature=x"
FAST = RetryPolicy(attempts=3, base_delay=0.01)
LINES = [
    {"id": "gid://shopify/Order/1", "name": "#1001"},
    {"id": "gid://shopify/LineItem/11", "__parentId": "gid://shopify/Order/1"},
    {"id": "gid://shopify/LineItem/12", "__parentId": "gid://shopify/Order/1"},
    {"id": "gid://shopify/Order/2", "name": "#1002"},
    {"id": "gid://shopify/Order/3", "name": "#1003"},
    {"id": "gid://shopify/LineItem/31", "__parentId": "gid://shopify/Order/3"},
]
JSONL = "".join(json.dumps(line) + "\n" for line in LINES)


async def _read(skip_lines: int = 0) -> list[BulkRecord]:
    async with httpx.AsyncClient() as http:
        return [
            record async for record in bulk_records(http, URL, skip_lines=skip_lines, policy=FAST)
        ]


@respx.mock
async def test_children_come_with_their_parent_and_each_record_ends_on_its_last_line() -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, text=JSONL))
    records = await _read()
    assert [(record.node["id"], record.end_line) for record in records] == [
        ("gid://shopify/Order/1", 3),
        ("gid://shopify/Order/2", 4),
        ("gid://shopify/Order/3", 6),
    ]
    assert [child["id"] for child in records[0].children] == [
        "gid://shopify/LineItem/11",
        "gid://shopify/LineItem/12",
    ]
    assert records[1].children == []


@respx.mock
async def test_a_resumed_read_starts_after_the_lines_written() -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, text=JSONL))
    records = await _read(skip_lines=3)
    assert [record.node["id"] for record in records] == [
        "gid://shopify/Order/2",
        "gid://shopify/Order/3",
    ]


@respx.mock
async def test_a_storage_hiccup_is_retried_and_an_expired_url_is_final() -> None:
    route = respx.get(URL).mock(side_effect=[httpx.Response(503), httpx.Response(200, text=JSONL)])
    assert len(await _read()) == 3
    assert route.call_count == 2
    route.side_effect = None
    route.return_value = httpx.Response(403, text="<Error>ExpiredToken</Error>")
    with pytest.raises(ShopifyAdminError, match="answered 403"):
        await _read()
