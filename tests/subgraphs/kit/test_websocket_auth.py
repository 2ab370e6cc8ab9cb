"""connection_init over graphql-transport-ws, against a subgraph on real uvicorn with a real
WebSocket client: a missing or bad token is closed with 4401, a valid token that may not
open a live socket with 4403, both within a second; a good token is acknowledged."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.edge.auth.tokens import mint_staff_token
from subgraphs.kit.auth import API_KEY_PREFIX
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, served_subgraph

# An API key's form (kit.api_keys): prefix, merchant id, then a secret of 40+ characters.
API_KEY_SHAPE = f"{API_KEY_PREFIX}0190a0b4-0000-7000-8000-000000000000_"


@pytest_asyncio.fixture(loop_scope="session")
async def points_ws(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("points", resources) as url:
        yield url


async def first_answer(url: str, payload: dict[str, Any]) -> tuple[dict[str, Any] | int, float]:
    """The first thing the server answers to connection_init (a message, or the close code),
    and after how many seconds."""
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        started = time.monotonic()
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 5))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else -1
            return code, time.monotonic() - started
        return message, time.monotonic() - started


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic abc"},
        {"Authorization": f"Bearer {API_KEY_SHAPE}\ud800{'x' * 40}"},
        {"Authorization": f"Bearer {API_KEY_SHAPE}\u0000{'x' * 40}"},
    ],
    ids=["missing", "not-a-token", "not-bearer", "api-key-lone-surrogate", "api-key-nul"],
)
async def test_a_missing_or_bad_token_is_closed_with_4401_at_once(
    points_ws: str, payload: dict[str, Any]
) -> None:
    answer, seconds = await first_answer(points_ws, payload)

    assert answer == 4401
    assert seconds < 1


async def test_a_valid_token_that_may_not_subscribe_is_closed_with_4403(
    points_ws: str, resources: Resources, tenant: Tenant
) -> None:
    # Staff without MFA hold no capability at all.
    token = mint_staff_token(
        shop_domain=tenant.shop_domain,
        staff_id="s-1",
        roles=["admin:full"],
        secret=resources.settings.staff_token_secret,
        mfa=False,
    )

    answer, seconds = await first_answer(points_ws, {"Authorization": f"Bearer {token}"})

    assert answer == 4403
    assert seconds < 1


async def test_a_good_token_is_acknowledged(points_ws: str, tenant: Tenant) -> None:
    answer, _ = await first_answer(points_ws, {"Authorization": f"Bearer {tenant.token}"})

    assert isinstance(answer, dict)
    assert answer["type"] == "connection_ack"


async def test_a_subscription_variable_with_a_nul_is_bad_user_input(
    points_ws: str, tenant: Tenant
) -> None:
    query = "subscription($id: ID!) { customerPointsUpdated(customerId: $id) { id } }"
    async with connect(points_ws, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        init = {"Authorization": f"Bearer {tenant.token}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
        subscribe = {"query": query, "variables": {"id": "c\x00"}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        answer = json.loads(await asyncio.wait_for(socket.recv(), 5))

    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    assert [error["extensions"]["code"] for error in errors] == ["BAD_USER_INPUT"]
    assert errors[0]["extensions"]["field"] == ["id"]
