"""Long because every Shopify answer the client handles (throttle, 5xx, auth, userErrors) is here.

The Shopify Admin client against Shopify's HTTP answers (respx), and the budget monitor against
real Redis: discounts are created as specified, throttling is waited out for as long as
Shopify's numbers say, an unwell shop is retried then cut off, and a nearly spent budget
raises one alert per window."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
import respx
from purgatory import AsyncCircuitBreakerFactory
from redis.asyncio import Redis

from subgraphs.kit.integrations.alerts import SlackAlerter
from subgraphs.kit.integrations.http_retries import RetryPolicy
from subgraphs.kit.integrations.shopify_admin import (
    ShopifyAdminClient,
    ShopifyAdminError,
    ShopifyAuthError,
    ShopifyUnavailableError,
    ShopifyUserErrors,
    ThrottleStatus,
)
from subgraphs.kit.integrations.shopify_operations import DiscountCodeSpec, DiscountKind
from subgraphs.kit.integrations.shopify_rate_limits import RateLimitMonitor, throttle_key
from subgraphs.kit.resources import Resources

SHOP = "cool-socks.myshopify.com"
URL = f"https://{SHOP}/admin/api/2025-10/graphql.json"
TOKEN = "shpat_test_token"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/secret"
STARTS = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CREATED = {
    "discountCodeBasicCreate": {
        "codeDiscountNode": {"id": "gid://shopify/DiscountCodeNode/77"},
        "userErrors": [],
    }
}


def cost(
    requested: float = 10, available: float = 1990, maximum: float = 2000, restore: float = 100
) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": restore,
            },
        }
    }


def ok(data: dict[str, Any], **cost_args: float) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "extensions": cost(**cost_args)})


def throttled(requested: float, available: float, restore: float) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": cost(requested=requested, available=available, restore=restore),
        },
    )


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


class Sleeps:
    """Records the waits the client asks for instead of spending them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def breakers() -> AsyncCircuitBreakerFactory:
    return AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client_for(
    http: httpx.AsyncClient,
    breakers: AsyncCircuitBreakerFactory,
    sleeps: Sleeps | None = None,
    *,
    shop: str = SHOP,
    **kwargs: Any,
) -> ShopifyAdminClient:
    return ShopifyAdminClient(
        http,
        shop_domain=shop,
        access_token=TOKEN,
        breakers=breakers,
        sleep=sleeps or Sleeps(),
        # Transient-error backoff goes through stamina's real sleep: keep it short here.
        **{"base_delay": 0.001, **kwargs},
    )


@pytest.fixture
def client(
    http: httpx.AsyncClient, breakers: AsyncCircuitBreakerFactory, sleeps: Sleeps
) -> ShopifyAdminClient:
    return client_for(http, breakers, sleeps)


# --- discounts -----------------------------------------------------------------------------


async def test_fixed_amount_discount_is_single_use_for_one_customer(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(return_value=ok(CREATED))
    spec = DiscountCodeSpec(
        code="LOYAL-5OFF-AB12",
        title="Loyalty reward: $5 off",
        kind=DiscountKind.FIXED_AMOUNT,
        value=Decimal("5.00"),
        minimum_subtotal=Decimal("20"),
        shopify_customer_id="1234",
        starts_at=STARTS,
        ends_at=STARTS + timedelta(days=30),
    )

    created = await client.create_discount_code(spec)

    assert created.id == "gid://shopify/DiscountCodeNode/77"
    assert created.code == "LOYAL-5OFF-AB12"
    request = route.calls.last.request
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    body = sent(route)
    assert "discountCodeBasicCreate(basicCodeDiscount: $input)" in body["query"]
    discount = body["variables"]["input"]
    assert discount["code"] == "LOYAL-5OFF-AB12"
    assert discount["title"] == "Loyalty reward: $5 off"
    assert discount["customerGets"] == {
        "value": {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}},
        "items": {"all": True},
    }
    assert discount["usageLimit"] == 1
    assert discount["appliesOncePerCustomer"] is True
    assert discount["context"] == {"customers": {"add": ["gid://shopify/Customer/1234"]}}
    assert discount["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "20"}}
    assert discount["startsAt"] == "2025-06-01T12:00:00+00:00"
    assert discount["endsAt"] == "2025-07-01T12:00:00+00:00"


async def test_percentage_discount_for_anyone_is_sent_as_a_fraction(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(return_value=ok(CREATED))
    spec = DiscountCodeSpec(
        code="LOYAL-15",
        title="15% off",
        kind=DiscountKind.PERCENTAGE,
        value=Decimal("15"),
        starts_at=STARTS,
    )

    await client.create_discount_code(spec)

    discount = sent(route)["variables"]["input"]
    assert discount["customerGets"]["value"] == {"percentage": 0.15}
    assert discount["context"] == {"all": "ALL"}
    assert discount["endsAt"] is None
    assert "minimumRequirement" not in discount


async def test_free_product_discount_targets_the_product(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(return_value=ok(CREATED))
    spec = DiscountCodeSpec(
        code="LOYAL-SOCKS",
        title="Free socks",
        kind=DiscountKind.FREE_PRODUCT,
        product_id="gid://shopify/Product/42",
        shopify_customer_id="gid://shopify/Customer/9",
        starts_at=STARTS,
    )

    await client.create_discount_code(spec)

    discount = sent(route)["variables"]["input"]
    assert discount["customerGets"] == {
        "value": {"discountOnQuantity": {"quantity": "1", "effect": {"percentage": 1.0}}},
        "items": {"products": {"productsToAdd": ["gid://shopify/Product/42"]}},
    }
    assert discount["context"] == {"customers": {"add": ["gid://shopify/Customer/9"]}}


async def test_free_shipping_uses_the_free_shipping_mutation(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(
        return_value=ok(
            {
                "discountCodeFreeShippingCreate": {
                    "codeDiscountNode": {"id": "gid://shopify/DiscountCodeNode/78"},
                    "userErrors": [],
                }
            }
        )
    )
    spec = DiscountCodeSpec(
        code="LOYAL-SHIP", title="Free shipping", kind=DiscountKind.FREE_SHIPPING, starts_at=STARTS
    )

    created = await client.create_discount_code(spec)

    assert created.id == "gid://shopify/DiscountCodeNode/78"
    body = sent(route)
    assert "discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input)" in body["query"]
    assert "discountCodeBasicCreate" not in body["query"]
    discount = body["variables"]["input"]
    assert discount["destination"] == {"all": True}
    assert discount["usageLimit"] == 1
    assert "customerGets" not in discount


async def test_user_errors_are_raised_and_not_retried(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(
        return_value=ok(
            {
                "discountCodeBasicCreate": {
                    "codeDiscountNode": None,
                    "userErrors": [
                        {
                            "field": ["basicCodeDiscount", "code"],
                            "code": "TAKEN",
                            "message": "Code must be unique.",
                        }
                    ],
                }
            }
        )
    )
    spec = DiscountCodeSpec(
        code="DUP", title="t", kind=DiscountKind.FIXED_AMOUNT, value=Decimal(1), starts_at=STARTS
    )

    with pytest.raises(ShopifyUserErrors) as raised:
        await client.create_discount_code(spec)

    assert raised.value.messages == ["Code must be unique."]
    assert raised.value.codes == ["TAKEN"]
    assert route.call_count == 1


def test_discount_specs_that_shopify_would_misread_are_refused() -> None:
    with pytest.raises(ValueError, match="percentage"):
        DiscountCodeSpec(
            code="X", title="t", kind=DiscountKind.PERCENTAGE, value=Decimal(150), starts_at=STARTS
        )
    with pytest.raises(ValueError, match="product"):
        DiscountCodeSpec(code="X", title="t", kind=DiscountKind.FREE_PRODUCT, starts_at=STARTS)
    with pytest.raises(ValueError, match="timezone"):
        DiscountCodeSpec(
            code="X", title="t", kind=DiscountKind.FREE_SHIPPING, starts_at=datetime(2025, 1, 1)
        )


async def test_discount_id_by_code(client: ShopifyAdminClient, mock_http: respx.MockRouter) -> None:
    route = mock_http.post(URL).mock(
        side_effect=[
            ok({"codeDiscountNodeByCode": {"id": "gid://shopify/DiscountCodeNode/5"}}),
            ok({"codeDiscountNodeByCode": None}),
        ]
    )

    assert await client.discount_id_by_code("LOYAL-1") == "gid://shopify/DiscountCodeNode/5"
    assert await client.discount_id_by_code("NEVER-MADE") is None
    assert sent(route, 0)["variables"] == {"code": "LOYAL-1"}


# --- orders --------------------------------------------------------------------------------


def order_node(number: int) -> dict[str, Any]:
    def money(amount: str) -> dict[str, Any]:
        return {"shopMoney": {"amount": amount, "currencyCode": "EUR"}}

    return {
        "id": f"gid://shopify/Order/{number}",
        "legacyResourceId": str(number),
        "name": f"#{number}",
        "email": "ada@example.com",
        "createdAt": "2025-05-01T10:00:00Z",
        "updatedAt": "2025-05-02T11:30:00Z",
        "sourceName": "web",
        "customer": {"id": "gid://shopify/Customer/9", "legacyResourceId": "9"},
        "currentSubtotalPriceSet": money("42.50"),
        "lineItems": {
            "pageInfo": {"hasNextPage": False},
            "nodes": [
                {
                    "id": f"gid://shopify/LineItem/{number}1",
                    "title": "Socks",
                    "quantity": 2,
                    "originalTotalSet": money("50.00"),
                    "discountedTotalSet": money("42.50"),
                }
            ],
        },
    }


async def test_orders_since_reads_a_typed_page(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(
        return_value=ok(
            {
                "orders": {
                    "pageInfo": {"hasNextPage": True, "endCursor": "cursor-2"},
                    "nodes": [order_node(1001), {**order_node(1002), "customer": None}],
                }
            }
        )
    )

    page = await client.orders_since(
        datetime(2025, 5, 1, 2, 0, tzinfo=UTC), first=2, after="cursor-1"
    )

    variables = sent(route)["variables"]
    assert variables == {
        "first": 2,
        "after": "cursor-1",
        "query": "updated_at:>='2025-05-01T02:00:00Z'",
    }
    assert page.has_next_page is True
    assert page.end_cursor == "cursor-2"
    first, second = page.orders
    assert first.legacy_id == 1001
    assert first.customer is not None
    assert first.customer.legacy_id == 9
    assert first.subtotal is not None
    assert first.subtotal.amount == Decimal("42.50")
    assert first.created_at == datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
    assert first.line_items[0].quantity == 2
    assert first.line_items[0].original_total is not None
    assert first.line_items[0].original_total.amount == Decimal("50.00")
    assert first.line_items_complete is True
    assert second.customer is None


async def test_orders_page_size_stays_within_shopify_query_cost_limit(
    client: ShopifyAdminClient,
) -> None:
    with pytest.raises(ValueError, match="first"):
        await client.orders_since(datetime(2025, 1, 1, tzinfo=UTC), first=100)


# --- throttling ----------------------------------------------------------------------------


async def test_throttled_query_waits_for_the_bucket_to_refill_then_succeeds(
    http: httpx.AsyncClient,
    breakers: AsyncCircuitBreakerFactory,
    sleeps: Sleeps,
    mock_http: respx.MockRouter,
) -> None:
    readings: list[ThrottleStatus] = []

    async def on_throttle(status: ThrottleStatus) -> None:
        readings.append(status)

    client = client_for(http, breakers, sleeps, on_throttle=on_throttle)
    route = mock_http.post(URL).mock(
        side_effect=[
            # 202 points needed, 2 left, 50 restored per second: 4 seconds to wait.
            throttled(requested=202, available=2, restore=50),
            ok({"shop": {"name": "Cool Socks"}}, requested=202, available=0, restore=50),
        ]
    )

    data = await client.execute("{ shop { name } }")

    assert data == {"shop": {"name": "Cool Socks"}}
    assert route.call_count == 2
    assert len(sleeps.delays) == 1
    assert sleeps.delays[0] >= (202 - 2) / 50
    assert [r.currently_available for r in readings] == [2, 0]
    assert readings[0].maximum_available == 2000
    assert readings[0].restore_rate == 50


async def test_throttle_wait_is_at_least_the_base_delay(
    http: httpx.AsyncClient,
    breakers: AsyncCircuitBreakerFactory,
    sleeps: Sleeps,
    mock_http: respx.MockRouter,
) -> None:
    client = client_for(http, breakers, sleeps, base_delay=0.5)
    mock_http.post(URL).mock(
        side_effect=[throttled(requested=10, available=9.5, restore=100), ok({"ok": True})]
    )

    await client.execute("{ ok }")

    assert sleeps.delays == [0.5]


async def test_still_throttled_after_every_attempt_is_unavailable(
    client: ShopifyAdminClient, sleeps: Sleeps, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(
        return_value=throttled(requested=100, available=0, restore=100)
    )

    with pytest.raises(ShopifyUnavailableError, match="throttled"):
        await client.execute("{ shop { name } }")

    assert route.call_count == 3
    assert sleeps.delays == [1.0, 1.0]


# --- unwell Shopify ------------------------------------------------------------------------


async def test_5xx_is_retried_three_times_then_unavailable(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(return_value=httpx.Response(503))

    with pytest.raises(ShopifyUnavailableError):
        await client.execute("{ shop { name } }")

    assert route.call_count == 3


async def test_network_error_then_success(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(
        side_effect=[httpx.ConnectError("connection refused"), ok({"ok": True})]
    )

    assert await client.execute("{ ok }") == {"ok": True}
    assert route.call_count == 2


async def test_auth_failure_is_not_retried(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(
        return_value=httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})
    )

    with pytest.raises(ShopifyAuthError):
        await client.execute("{ shop { name } }")

    assert route.call_count == 1


async def test_graphql_errors_are_raised_without_retry(
    client: ShopifyAdminClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(
        return_value=httpx.Response(
            200, json={"errors": [{"message": "Field 'nope' doesn't exist on type 'Shop'"}]}
        )
    )

    with pytest.raises(ShopifyAdminError, match="nope") as raised:
        await client.execute("{ shop { nope } }")

    assert not isinstance(raised.value, ShopifyUnavailableError)
    assert route.call_count == 1


async def test_open_breaker_fails_fast_without_calling_shopify(
    http: httpx.AsyncClient, breakers: AsyncCircuitBreakerFactory, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(URL).mock(return_value=httpx.Response(502))
    client = client_for(http, breakers)

    with pytest.raises(ShopifyUnavailableError):
        await client.execute("{ shop { name } }")  # 3 failed requests
    with pytest.raises(ShopifyUnavailableError, match="circuit open"):
        await client.execute("{ shop { name } }")  # the 5th opens it; no 6th request
    assert route.call_count == 5

    # Every client of that shop in the process shares the breaker: none calls Shopify now.
    other_client = client_for(http, breakers)
    with pytest.raises(ShopifyUnavailableError, match="circuit open"):
        await other_client.execute("{ shop { name } }")
    assert route.call_count == 5

    # Other shops have breakers of their own.
    healthy_url = "https://healthy.myshopify.com/admin/api/2025-10/graphql.json"
    healthy = mock_http.post(healthy_url).mock(return_value=ok({"ok": True}))
    assert await client_for(http, breakers, shop="healthy.myshopify.com").execute("{ ok }") == {
        "ok": True
    }
    assert healthy.call_count == 1


def test_the_token_only_goes_to_a_shopify_shop(
    http: httpx.AsyncClient, breakers: AsyncCircuitBreakerFactory
) -> None:
    with pytest.raises(ValueError, match="myshopify"):
        client_for(http, breakers, shop="evil.example.com/x?")


# --- budget monitor ------------------------------------------------------------------------


def reading(available: float, maximum: float = 2000, restore: float = 100) -> ThrottleStatus:
    return ThrottleStatus(
        maximum_available=maximum,
        currently_available=available,
        restore_rate=restore,
        observed_at=datetime.now(UTC).replace(microsecond=0),
    )


def new_merchant_id() -> str:
    return f"m-{uuid.uuid4().hex}"


@pytest.fixture
def slack(http: httpx.AsyncClient) -> SlackAlerter:
    return SlackAlerter(http, SLACK_URL, retry=RetryPolicy(base_delay=0.001))


def test_used_fraction_is_clamped() -> None:
    assert reading(available=500).used_fraction == 0.75
    assert reading(available=2500).used_fraction == 0.0
    assert reading(available=-5).used_fraction == 1.0


async def test_monitor_stores_the_latest_reading_for_a_day(
    resources: Resources, slack: SlackAlerter, mock_http: respx.MockRouter
) -> None:
    monitor = RateLimitMonitor(resources.redis, slack)
    merchant_id = new_merchant_id()
    assert await monitor.latest(merchant_id) is None

    await monitor.record(merchant_id, reading(available=1500))
    newest = reading(available=1200)
    await monitor.record(merchant_id, newest)

    assert await monitor.latest(merchant_id) == newest
    ttl = await resources.redis.ttl(throttle_key(merchant_id))
    assert 86_000 < ttl <= 86_400


async def test_monitor_alerts_once_per_window_when_budget_nearly_spent(
    resources: Resources, slack: SlackAlerter, mock_http: respx.MockRouter
) -> None:
    hook = mock_http.post(SLACK_URL).mock(return_value=httpx.Response(200, text="ok"))
    monitor = RateLimitMonitor(resources.redis, slack)
    merchant_id = new_merchant_id()

    await monitor.record(merchant_id, reading(available=200))  # 90% used: no alert
    assert hook.call_count == 0

    await monitor.record(merchant_id, reading(available=80), shop_domain=SHOP)  # 96% used
    await monitor.record(merchant_id, reading(available=20))  # 99%, same window
    assert hook.call_count == 1
    text = json.loads(hook.calls[0].request.content)["text"]
    assert SHOP in text
    assert merchant_id in text
    assert "96%" in text

    other_merchant = new_merchant_id()
    await monitor.record(other_merchant, reading(available=0))
    assert hook.call_count == 2


async def test_monitor_alerts_again_once_the_window_has_passed(
    resources: Resources, slack: SlackAlerter, mock_http: respx.MockRouter
) -> None:
    hook = mock_http.post(SLACK_URL).mock(return_value=httpx.Response(200, text="ok"))
    monitor = RateLimitMonitor(resources.redis, slack, alert_window=timedelta(seconds=1))
    merchant_id = new_merchant_id()

    await monitor.record(merchant_id, reading(available=0))
    await monitor.record(merchant_id, reading(available=0))
    assert hook.call_count == 1
    # Redis expiry ends the window; expire it now rather than waiting a second.
    await resources.redis.delete(f"loyalnest:shopify:throttle-alert:{merchant_id}")
    await monitor.record(merchant_id, reading(available=0))
    assert hook.call_count == 2


async def test_failed_alert_is_tried_again_on_the_next_reading(
    resources: Resources, slack: SlackAlerter, mock_http: respx.MockRouter
) -> None:
    hook = mock_http.post(SLACK_URL).mock(
        side_effect=[httpx.Response(500)] * 3 + [httpx.Response(200, text="ok")]
    )
    monitor = RateLimitMonitor(resources.redis, slack)
    merchant_id = new_merchant_id()

    await monitor.record(merchant_id, reading(available=0))  # Slack down: swallowed
    assert hook.call_count == 3
    await monitor.record(merchant_id, reading(available=0))
    assert hook.call_count == 4


async def test_client_readings_reach_the_monitor(
    http: httpx.AsyncClient,
    breakers: AsyncCircuitBreakerFactory,
    resources: Resources,
    slack: SlackAlerter,
    mock_http: respx.MockRouter,
) -> None:
    hook = mock_http.post(SLACK_URL).mock(return_value=httpx.Response(200, text="ok"))
    mock_http.post(URL).mock(return_value=ok({"ok": True}, available=40, maximum=2000))
    monitor = RateLimitMonitor(resources.redis, slack)
    merchant_id = new_merchant_id()
    client = client_for(http, breakers, on_throttle=monitor.on_throttle_for(merchant_id))

    await client.execute("{ ok }")

    latest = await monitor.latest(merchant_id)
    assert latest is not None
    assert (latest.currently_available, latest.maximum_available) == (40, 2000)
    assert hook.call_count == 1


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_monitor_never_raises_when_redis_is_down(
    slack: SlackAlerter, mock_http: respx.MockRouter
) -> None:
    hook = mock_http.post(SLACK_URL).mock(return_value=httpx.Response(200, text="ok"))
    redis = Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=1)
    try:
        monitor = RateLimitMonitor(redis, slack)
        merchant_id = new_merchant_id()

        await monitor.record(merchant_id, reading(available=0))
        assert await monitor.latest(merchant_id) is None
    finally:
        await redis.aclose()
    # Without Redis there is no dedupe: staying quiet beats one alert per Shopify call.
    assert hook.call_count == 0
