"""A data request's export is handed out as a short-lived signed link
(``GdprRequest.exportDownload``) that the edge app serves over real HTTP as a JSON file, once:
a second use is 410 and a new link works; a tampered or expired link is 403, and a later
redact leaves nothing to download (404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from subgraphs.admin.gdpr.downloads import DOWNLOAD_TTL, download_is_valid, signed_download
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant
from tests.gateway.webhooks.shopify import customer_payload, deliver, process_pending

EMAIL = "ada.download@example.com"
DOWNLOAD = "{ gdprRequests(type: DATA_REQUEST) { nodes { exportDownload { url expiresAt } } } }"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_the_export_downloads_through_a_short_lived_link(
    edge: httpx.AsyncClient, admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    shop = tenant.shop_domain
    await deliver(edge, "customers/create", customer_payload(6101, EMAIL), shop=shop)
    request = {"customer": {"id": 6101, "email": EMAIL}, "data_request": {"id": 9101}}
    await deliver(edge, "customers/data_request", {**request, "shop_domain": shop}, shop=shop)
    await process_pending(resources, tenant.merchant_id)

    answer = await admin_client.execute(DOWNLOAD, tenant=tenant)
    [node] = answer["data"]["gdprRequests"]["nodes"]
    link = node["exportDownload"]
    expires_at = datetime.fromisoformat(link["expiresAt"])
    file = await edge.get(path_of(link["url"]))
    tampered = await edge.get(path_of(link["url"]).replace("signature=", "signature=0"))

    again = await edge.get(path_of(link["url"]))
    [fresh] = (await admin_client.execute(DOWNLOAD, tenant=tenant))["data"]["gdprRequests"]["nodes"]
    fresh_file = await edge.get(path_of(fresh["exportDownload"]["url"]))

    assert link["url"].startswith(resources.settings.app_url)
    assert timedelta(0) < expires_at - datetime.now(UTC) <= DOWNLOAD_TTL
    assert file.status_code == 200, file.text
    assert file.headers["content-disposition"].startswith("attachment;")
    assert "no-store" in file.headers["cache-control"]
    assert EMAIL in file.text
    assert tampered.status_code == 403
    # Once: the same link again is refused, and says to ask for a new one, which works.
    assert again.status_code == 410
    assert "new one" in again.json()["error"]
    assert fresh_file.status_code == 200
    assert fresh_file.json() == file.json()

    [unused] = (await admin_client.execute(DOWNLOAD, tenant=tenant))["data"]["gdprRequests"][
        "nodes"
    ]
    redact = {"customer": {"id": 6101, "email": EMAIL}, "orders_to_redact": []}
    await deliver(edge, "customers/redact", {**redact, "shop_domain": shop}, shop=shop)
    await process_pending(resources, tenant.merchant_id)
    gone = await edge.get(path_of(unused["exportDownload"]["url"]))
    after = await admin_client.execute(DOWNLOAD, tenant=tenant)

    assert gone.status_code == 404
    assert after["data"]["gdprRequests"]["nodes"] == [{"exportDownload": None}]


def test_a_link_is_good_for_its_export_until_it_expires() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    key = "download-test-key"
    link = signed_download("https://app.test", key, "m1", "r1", now=now)
    query = dict(part.split("=") for part in urlsplit(link.url).query.split("&"))

    def valid(
        merchant: str, request: str, at: datetime, secret: str = key, link: str | None = None
    ) -> bool:
        return download_is_valid(
            secret,
            merchant,
            request,
            query["expires"],
            query["link"] if link is None else link,
            query["signature"],
            now=at,
        )

    assert valid("m1", "r1", now + DOWNLOAD_TTL)
    assert not valid("m1", "r1", now + DOWNLOAD_TTL + timedelta(seconds=1))
    assert not valid("m2", "r1", now)
    assert not valid("m1", "r2", now)
    assert not valid("m1", "r1", now, secret=key + "-other")
    assert not valid("m1", "r1", now, link="0" * 32)
