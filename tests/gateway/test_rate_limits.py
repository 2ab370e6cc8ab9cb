"""The edge app's rate limits, over its real ASGI interface and the test Redis: a flood from one
shop is answered 429 (and stores nothing) while other shops are still accepted; unauthenticated
endpoints are limited per IP; and with Redis away every request is let through.

Limits are made small through settings so that a flood is a few dozen requests. Each test
uses its own limit values, and ``limits`` keys a counter by its limit too, so no test's flood
spends another test's budget.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from structlog.testing import capture_logs

from cli.embedded import free_port, start_redis
from gateway.edge.app import create_edge_app
from subgraphs.kit.rate_limits import RateLimiter
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, new_tenant
from tests.gateway.webhooks.shopify import deliver, inbox, order_payload


@asynccontextmanager
async def edge_with(resources: Resources, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The edge app over the session's resources, with some settings changed."""
    changed = dataclasses.replace(
        resources, settings=resources.settings.model_copy(update=settings)
    )
    transport = httpx.ASGITransport(app=create_edge_app(resources=changed))
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        yield http


def assert_rate_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "RATE_LIMITED"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["ratelimit-reset"]) >= 1


async def test_a_flood_from_one_shop_gets_429_stores_nothing_and_other_shops_still_get_in(
    resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with edge_with(resources, webhook_rate_limit="5/minute") as edge:
        flood = [
            await deliver(
                edge,
                "orders/create",
                order_payload(7000 + n, lines=[(1, 1, "5.00")], customer_id=n),
                shop=tenant.shop_domain,
            )
            for n in range(12)
        ]
        other = await deliver(
            edge,
            "orders/create",
            order_payload(7100, lines=[(1, 1, "5.00")], customer_id=1),
            shop=other_tenant.shop_domain,
        )

    assert [r.status_code for r in flood] == [200] * 5 + [429] * 7
    for refused in flood[5:]:
        assert_rate_limited(refused, 5)
    assert other.status_code == 200, other.text
    # Only the accepted deliveries are in the inbox, each once: Shopify retries the refused.
    accepted = {r.json()["deliveryId"] for r in flood[:5]}
    assert {row["id"] for row in await inbox(resources, tenant.merchant_id)} == accepted
    assert len(await inbox(resources, other_tenant.merchant_id)) == 1


async def test_a_refused_delivery_retried_later_is_stored_once(
    resources: Resources, tenant: Tenant
) -> None:
    payload = order_payload(7200, lines=[(1, 1, "5.00")], customer_id=5)
    async with edge_with(resources, webhook_rate_limit="2/second") as edge:
        await deliver(
            edge,
            "orders/create",
            order_payload(7201, lines=[(1, 1, "1.00")]),
            shop=tenant.shop_domain,
        )
        await deliver(
            edge,
            "orders/create",
            order_payload(7202, lines=[(1, 1, "1.00")]),
            shop=tenant.shop_domain,
        )
        refused = await deliver(
            edge, "orders/create", payload, shop=tenant.shop_domain, webhook_id="retried-1"
        )
        assert refused.status_code == 429
        assert len(await inbox(resources, tenant.merchant_id)) == 2
        # Shopify's retry of the same delivery, once the window has room again.
        await asyncio.sleep(int(refused.headers["retry-after"]) + 1)
        retried = await deliver(
            edge, "orders/create", payload, shop=tenant.shop_domain, webhook_id="retried-1"
        )
        again = await deliver(
            edge, "orders/create", payload, shop=tenant.shop_domain, webhook_id="retried-1"
        )

    assert retried.status_code == 200
    assert retried.json()["status"] == "accepted"
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert len(await inbox(resources, tenant.merchant_id)) == 3


async def test_a_flood_of_bad_signatures_from_one_ip_gets_429(
    resources: Resources, tenant: Tenant
) -> None:
    async with edge_with(resources, webhook_bad_signature_rate_limit="4/minute") as edge:
        answers = [
            await deliver(
                edge,
                "orders/create",
                order_payload(7300 + n, lines=[(1, 1, "5.00")]),
                shop=tenant.shop_domain,
                secret="not-the-app-secret",
            )
            for n in range(8)
        ]

    assert [r.status_code for r in answers] == [401] * 4 + [429] * 4
    assert_rate_limited(answers[-1], 4)
    assert await inbox(resources, tenant.merchant_id) == []


async def test_the_app_proxy_and_oauth_are_limited_per_ip(resources: Resources) -> None:
    async with edge_with(
        resources, proxy_token_rate_limit="3/minute", oauth_rate_limit="2/minute"
    ) as edge:
        proxy = [await edge.get("/proxy/token", params={"shop": "x"}) for _ in range(5)]
        install = [await edge.get("/auth/install", params={"shop": "x"}) for _ in range(2)]
        callback = await edge.get("/auth/callback", params={"shop": "x"})

    # Unsigned: refused 401 while within the limit, 429 past it.
    assert [r.status_code for r in proxy] == [401, 401, 401, 429, 429]
    assert_rate_limited(proxy[-1], 3)
    assert [r.status_code for r in install] == [401, 401]
    # /auth/install and /auth/callback share the per-IP OAuth budget.
    assert_rate_limited(callback, 2)


async def test_with_redis_down_the_limits_fail_open_with_one_log_line(
    resources: Resources,
) -> None:
    dead = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    unreachable = dataclasses.replace(resources, rate_limiter=RateLimiter(dead))
    tenant = await new_tenant(resources)
    with capture_logs() as logs:
        async with edge_with(
            unreachable, webhook_rate_limit="2/minute", proxy_token_rate_limit="2/minute"
        ) as edge:
            deliveries = [
                await deliver(
                    edge,
                    "orders/create",
                    order_payload(7400 + n, lines=[(1, 1, "5.00")]),
                    shop=tenant.shop_domain,
                )
                for n in range(6)
            ]
            proxy = [await edge.get("/proxy/token") for _ in range(4)]
    await dead.aclose()

    assert [r.status_code for r in deliveries] == [200] * 6
    assert [r.status_code for r in proxy] == [401] * 4
    assert len(await inbox(resources, tenant.merchant_id)) == 6
    failing_open = [entry for entry in logs if entry["event"] == "rate_limits_failing_open"]
    assert len(failing_open) == 1, logs


async def test_with_redis_hung_mid_flood_the_limits_fail_open(
    resources: Resources, tmp_path: Path
) -> None:
    own = start_redis(tmp_path)
    client = Redis.from_url(own.url)
    limited = dataclasses.replace(resources, rate_limiter=RateLimiter(client))
    tenant = await new_tenant(resources)
    try:
        with capture_logs() as logs:
            async with edge_with(limited, webhook_rate_limit="3/minute") as edge:

                async def send(n: int) -> int:
                    payload = order_payload(7500 + n, lines=[(1, 1, "5.00")])
                    response = await deliver(
                        edge, "orders/create", payload, shop=tenant.shop_domain
                    )
                    return response.status_code

                before = [await send(n) for n in range(4)]
                # Hung, not gone: connections stay open and nothing answers.
                os.kill(own.process.pid, signal.SIGSTOP)
                during = [await send(n) for n in range(4, 10)]
    finally:
        os.kill(own.process.pid, signal.SIGCONT)
        await client.aclose()
        own.stop()

    assert before == [200, 200, 200, 429]
    assert during == [200] * 6
    assert len([e for e in logs if e["event"] == "rate_limits_failing_open"]) == 1
