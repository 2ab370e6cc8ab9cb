"""Expiry reminders: rendered in the customer's language, and delivered through Klaviyo or
Postscript as those APIs expect (respx), retried while the provider is unwell or asks us to wait,
and refused at once when retrying cannot help."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio
import respx

from subgraphs.kit.integrations.http_retries import RetryPolicy
from subgraphs.kit.integrations.message_rendering import RenderedMessage, render_expiry_reminder
from subgraphs.kit.integrations.notifications import (
    KLAVIYO_EVENTS_URL,
    POSTSCRIPT_MESSAGES_URL,
    KlaviyoClient,
    NotificationClient,
    NotificationNotDeliverable,
    NotificationRejected,
    NotificationUnavailable,
    PostscriptClient,
    Recipient,
)

FAST = RetryPolicy(base_delay=0.001)
EXPIRES = date(2025, 7, 14)
ADA = Recipient(email="ada@example.com", phone="+15555550100", locale="en", external_id="c-1")


def reminder(locale: str = "en") -> RenderedMessage:
    return render_expiry_reminder(
        locale, points=1250, points_name="Stars", expires_on=EXPIRES, shop_name="Cool Socks"
    )


# --- templates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "rtl", "word"),
    [
        ("en", False, "expire"),
        ("es", False, "caducan"),
        ("fr", False, "expirent"),
        ("ar", True, "صلاحية"),
        ("he", True, "יפוגו"),
    ],
)
def test_every_language_has_its_own_text(locale: str, rtl: bool, word: str) -> None:
    message = reminder(locale)

    assert message.locale == locale
    assert message.rtl is rtl
    assert word in message.subject + message.body
    for value in ("1250", "Stars", "2025-07-14"):
        assert value in message.subject
    assert "Cool Socks" in message.body
    assert "{" not in message.subject + message.body


def test_languages_differ() -> None:
    bodies = {reminder(locale).body for locale in ("en", "es", "fr", "ar", "he")}
    assert len(bodies) == 5


def test_rtl_values_are_isolated_so_latin_names_keep_their_place() -> None:
    assert "\u2068Cool Socks\u2069" in reminder("he").body
    assert "\u2068" not in reminder("en").body


@pytest.mark.parametrize(
    ("asked", "served"),
    [("fr-CA", "fr"), ("es_MX", "es"), ("he-IL", "he"), ("iw", "he"), ("AR", "ar"), ("de", "en")],
)
def test_locale_falls_back_to_the_language_then_english(asked: str, served: str) -> None:
    assert reminder(asked).locale == served
    assert reminder(asked).body == reminder(served).body


def test_numbers_are_plain() -> None:
    message = render_expiry_reminder(
        "fr", points=1234567, points_name="points", expires_on=EXPIRES, shop_name="S"
    )
    assert "1234567" in message.body


# --- delivery ------------------------------------------------------------------------------


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


Provider = tuple[str, Callable[[httpx.AsyncClient], NotificationClient]]
PROVIDERS: list[Provider] = [
    (KLAVIYO_EVENTS_URL, lambda http: KlaviyoClient(http, "pk_test", retry=FAST)),
    (POSTSCRIPT_MESSAGES_URL, lambda http: PostscriptClient(http, "sk_test", retry=FAST)),
]
provider_ids = ["klaviyo", "postscript"]


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


async def send(client: NotificationClient, recipient: Recipient = ADA) -> None:
    await client.send_expiry_reminder(recipient, reminder(), points=1250, expires_on=EXPIRES)


async def test_klaviyo_records_an_event_on_the_profile(
    http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    message = reminder("he")

    await KlaviyoClient(http, "pk_test", retry=FAST).send_expiry_reminder(
        ADA, message, points=1250, expires_on=EXPIRES
    )

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Klaviyo-API-Key pk_test"
    assert request.headers["revision"] == "2024-10-15"
    event = sent(route)["data"]
    assert event["type"] == "event"
    attributes = event["attributes"]
    assert attributes["metric"]["data"]["attributes"]["name"] == "LoyalNest Points Expiring"
    assert attributes["profile"]["data"]["attributes"] == {
        "email": "ada@example.com",
        "phone_number": "+15555550100",
        "external_id": "c-1",
    }
    assert attributes["properties"] == {
        "points": 1250,
        "expires_on": "2025-07-14",
        "subject": message.subject,
        "body": message.body,
        "locale": "he",
        "rtl": True,
    }


async def test_postscript_sends_the_body_as_an_sms(
    http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(POSTSCRIPT_MESSAGES_URL).mock(
        return_value=httpx.Response(200, json={"id": "msg_1"})
    )

    await send(PostscriptClient(http, "sk_test", retry=FAST))

    assert route.calls.last.request.headers["Authorization"] == "Bearer sk_test"
    payload = sent(route)
    assert payload["phone"] == "+15555550100"
    assert payload["body"] == reminder().body


@pytest.mark.parametrize(("url", "make"), PROVIDERS, ids=provider_ids)
async def test_503_is_retried_then_succeeds(
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    url: str,
    make: Callable[[httpx.AsyncClient], NotificationClient],
) -> None:
    route = mock_http.post(url).mock(side_effect=[httpx.Response(503), httpx.Response(202)])

    await send(make(http))

    assert route.call_count == 2
    # The retry is the same request: Klaviyo's unique_id lets it drop a duplicate.
    assert sent(route, 0) == sent(route, 1)


@pytest.mark.parametrize(("url", "make"), PROVIDERS, ids=provider_ids)
async def test_network_errors_three_times_make_the_provider_unavailable(
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    url: str,
    make: Callable[[httpx.AsyncClient], NotificationClient],
) -> None:
    route = mock_http.post(url).mock(side_effect=httpx.ConnectTimeout("timed out"))

    with pytest.raises(NotificationUnavailable):
        await send(make(http))

    assert route.call_count == 3


@pytest.mark.parametrize(("url", "make"), PROVIDERS, ids=provider_ids)
async def test_400_is_rejected_without_retry(
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    url: str,
    make: Callable[[httpx.AsyncClient], NotificationClient],
) -> None:
    route = mock_http.post(url).mock(
        return_value=httpx.Response(400, json={"errors": [{"detail": "invalid phone"}]})
    )

    with pytest.raises(NotificationRejected) as raised:
        await send(make(http))

    assert raised.value.status_code == 400
    assert route.call_count == 1


@pytest.mark.parametrize(("url", "make"), PROVIDERS, ids=provider_ids)
async def test_429_waits_as_long_as_retry_after_says(
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    url: str,
    make: Callable[[httpx.AsyncClient], NotificationClient],
) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(202)])
    arrivals: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        arrivals.append(time.monotonic())
        return next(answers)

    mock_http.post(url).mock(side_effect=answer)

    await send(make(http))

    assert len(arrivals) == 2
    # The backoff alone would be ~1 ms: only Retry-After explains a full second.
    assert arrivals[1] - arrivals[0] >= 0.99


@pytest.mark.parametrize(("url", "make"), PROVIDERS, ids=provider_ids)
async def test_retry_after_longer_than_we_wait_gives_up_at_once(
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    url: str,
    make: Callable[[httpx.AsyncClient], NotificationClient],
) -> None:
    route = mock_http.post(url).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "3600"})
    )

    with pytest.raises(NotificationUnavailable):
        await send(make(http))

    assert route.call_count == 1


async def test_postscript_without_phone_is_not_deliverable(
    http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(POSTSCRIPT_MESSAGES_URL).mock(return_value=httpx.Response(200))
    no_phone = Recipient(email="ada@example.com", phone=None, locale="en", external_id="c-1")

    with pytest.raises(NotificationNotDeliverable):
        await send(PostscriptClient(http, "sk_test", retry=FAST), no_phone)

    assert route.call_count == 0


async def test_klaviyo_needs_some_address(
    http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    nobody = Recipient(email=None, phone=None, locale="en", external_id="c-1")

    with pytest.raises(NotificationNotDeliverable):
        await send(KlaviyoClient(http, "pk_test", retry=FAST), nobody)

    assert route.call_count == 0
