"""Slack alerts against Slack's HTTP answers (respx): delivered, retried while Slack is unwell,
given up on loudly, and never retried when Slack refuses the webhook itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
import respx

from subgraphs.kit.integrations.alerts import AlertDeliveryError, Alerter, SlackAlerter
from subgraphs.kit.integrations.http_retries import RetryPolicy

WEBHOOK = "https://hooks.slack.com/services/T000/B000/very-secret-path"
FAST = RetryPolicy(base_delay=0.001)


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest_asyncio.fixture(loop_scope="session")
async def slack() -> AsyncIterator[SlackAlerter]:
    async with httpx.AsyncClient() as http:
        yield SlackAlerter(http, WEBHOOK, retry=FAST)


async def test_alert_is_posted_as_slack_text(
    slack: SlackAlerter, mock_http: respx.MockRouter
) -> None:
    hook = mock_http.post(WEBHOOK).mock(return_value=httpx.Response(200, text="ok"))
    alerter: Alerter = slack

    await alerter.send("budget nearly spent")

    assert hook.call_count == 1
    assert json.loads(hook.calls[0].request.content) == {"text": "budget nearly spent"}


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(503), httpx.Response(429), httpx.ConnectError("connection refused")],
    ids=["503", "429", "network"],
)
async def test_unwell_slack_is_retried(
    slack: SlackAlerter, mock_http: respx.MockRouter, failure: httpx.Response | Exception
) -> None:
    hook = mock_http.post(WEBHOOK).mock(side_effect=[failure, httpx.Response(200, text="ok")])

    await slack.send("hello")

    assert hook.call_count == 2


async def test_gives_up_after_three_tries_without_leaking_the_webhook(
    slack: SlackAlerter, mock_http: respx.MockRouter
) -> None:
    hook = mock_http.post(WEBHOOK).mock(return_value=httpx.Response(500))

    with pytest.raises(AlertDeliveryError) as raised:
        await slack.send("hello")

    assert hook.call_count == 3
    assert "very-secret-path" not in str(raised.value)


async def test_refused_webhook_is_not_retried(
    slack: SlackAlerter, mock_http: respx.MockRouter
) -> None:
    hook = mock_http.post(WEBHOOK).mock(return_value=httpx.Response(404, text="no_service"))

    with pytest.raises(AlertDeliveryError, match="no_service"):
        await slack.send("hello")

    assert hook.call_count == 1
