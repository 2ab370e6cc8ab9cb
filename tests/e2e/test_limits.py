"""Rate limits and the cost limit at the router, over real HTTP and WebSockets.

The floods run against a second router in front of the same subgraphs, with limits a few
requests high, so they neither take long nor touch the shared router's budgets.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from cli.embedded import free_port
from gateway.edge.auth.session_tokens import mint_session_token
from subgraphs.kit.resources import Resources
from tests.conftest import TEST_API_KEY, Tenant, add_customer, new_tenant, token_for
from tests.e2e.conftest import Router, another_router

GRAPHQL_TRANSPORT_WS = Subprotocol("graphql-transport-ws")
SESSION_LIMIT = 8
ANONYMOUS_LIMIT = 5
ROUTER_BUDGET = 150  # of the limited router, below the subgraphs' (10,000)
CUSTOMERS = "{ customers(first: 1) { nodes { id } } }"
THIRTY_ALIASES = (
    "{ "
    + " ".join(
        f"a{n}: customers(first: 100) {{ edges {{ node {{ "
        f"pointsTransactions(first: 100) {{ edges {{ node {{ id }} }} }} }} }} }}"
        for n in range(30)
    )
    + " }"
)


@pytest.fixture(scope="module")
def limited(router: Router) -> Iterator[Router]:
    with another_router(
        router,
        LOYALNEST_ROUTER_RATE_LIMIT_SESSION=str(SESSION_LIMIT),
        LOYALNEST_ROUTER_RATE_LIMIT_ANONYMOUS=str(ANONYMOUS_LIMIT),
        LOYALNEST_QUERY_COST_BUDGET=str(ROUTER_BUDGET),
    ) as started:
        yield started


@pytest_asyncio.fixture(loop_scope="session")
async def http(limited: Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited.url, timeout=15) as client:
        yield client


def client_from(router: Router, ip: str) -> httpx.AsyncClient:
    """A client calling from its own loopback address: per-IP budgets of one test are not
    spent by another."""
    transport = httpx.AsyncHTTPTransport(local_address=ip)
    return httpx.AsyncClient(base_url=router.url, timeout=15, transport=transport)


async def post(
    http: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post("", json={"query": query}, headers=headers or {})


def assert_rate_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfterSeconds"] == int(response.headers["retry-after"])
    assert "http" not in error["extensions"]


async def test_flooding_with_one_shops_token_gets_429_while_another_shop_is_served(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    flood = [await post(http, CUSTOMERS, tenant.headers) for _ in range(SESSION_LIMIT + 4)]
    other = await post(http, CUSTOMERS, other_tenant.headers)

    assert [r.status_code for r in flood] == [200] * SESSION_LIMIT + [429] * 4
    assert "errors" not in flood[0].json(), flood[0].text
    # Served requests say how much is left.
    assert flood[0].headers["ratelimit-limit"] == str(SESSION_LIMIT)
    assert flood[0].headers["ratelimit-remaining"] == str(SESSION_LIMIT - 1)
    for refused in flood[SESSION_LIMIT:]:
        assert_rate_limited(refused, SESSION_LIMIT)
    assert other.status_code == 200
    assert other.json()["data"] == {"customers": {"nodes": []}}
    # A new session token of the same shop (App Bridge mints one a minute) shares its budget.
    another_user = token_for(tenant.shop_domain, user_id="2")
    again = await post(http, CUSTOMERS, {"authorization": f"Bearer {another_user}"})
    assert_rate_limited(again, SESSION_LIMIT)


async def test_forged_tokens_do_not_spend_a_shops_budget(
    limited: Router, resources: Resources
) -> None:
    victim = await new_tenant(resources)
    token = mint_session_token(
        shop_domain=victim.shop_domain, app_secret="not-the-app-secret", api_key=TEST_API_KEY
    )
    forged = {"authorization": f"Bearer {token}"}
    async with client_from(limited, "127.0.0.3") as http:
        forged_answers = [await post(http, CUSTOMERS, forged) for _ in range(SESSION_LIMIT + 1)]
        served = await post(http, CUSTOMERS, victim.headers)

    # The forged ones count against their IP, and the subgraph refuses them anyway.
    assert 429 in [r.status_code for r in forged_answers]
    assert served.status_code == 200
    assert "errors" not in served.json(), served.text


async def test_subscribes_over_a_websocket_count_and_get_rate_limited(
    limited: Router, resources: Resources
) -> None:
    tenant = await new_tenant(resources)
    answers: list[dict[str, Any]] = []
    async with connect(limited.ws_url, subprotocols=[GRAPHQL_TRANSPORT_WS]) as socket:
        await socket.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
            )
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        for n in range(SESSION_LIMIT + 2):
            await socket.send(
                json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": CUSTOMERS}})
            )
            while True:
                message = json.loads(await socket.recv())
                if message["type"] == "next":
                    answers.append(message["payload"])
                if message["type"] in ("complete", "error"):
                    break

    served, refused = answers[:SESSION_LIMIT], answers[SESSION_LIMIT:]
    assert all("errors" not in answer for answer in served), served
    assert len(refused) == 2
    for answer in refused:
        [error] = answer["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfterSeconds"] >= 1


async def test_calls_without_a_credential_are_limited_per_ip(limited: Router) -> None:
    async with client_from(limited, "127.0.0.2") as http:
        answers = [await post(http, "{ __typename }") for _ in range(ANONYMOUS_LIMIT + 2)]
    async with client_from(limited, "127.0.0.4") as http:
        elsewhere = await post(http, "{ __typename }")

    assert [r.status_code for r in answers] == [200] * ANONYMOUS_LIMIT + [429] * 2
    assert_rate_limited(answers[-1], ANONYMOUS_LIMIT)
    assert elsewhere.status_code == 200


async def test_with_redis_down_the_router_fails_open_with_one_log_line(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    log = tmp_path / "router.log"
    with another_router(
        router,
        log,
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        LOYALNEST_ROUTER_RATE_LIMIT_SESSION="2",
    ) as dead_redis:
        async with httpx.AsyncClient(base_url=dead_redis.url, timeout=15) as client:
            answers = [await post(client, CUSTOMERS, tenant.headers) for _ in range(8)]

    assert [r.status_code for r in answers] == [200] * 8
    assert all("errors" not in r.json() for r in answers)
    lines = log.read_text(errors="replace").splitlines()
    assert len([line for line in lines if "rate limits failing open" in line]) == 1, lines


async def test_thirty_aliases_of_nested_pages_are_refused_with_their_cost(
    router: Router, tenant: Tenant
) -> None:
    async with httpx.AsyncClient(base_url=router.url, timeout=15) as client:
        response = await post(client, THIRTY_ALIASES, tenant.headers)

    body = response.json()
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] == 30 * (100 + 100 * 100)
    assert error["extensions"]["maxCost"] == 10_000
    assert "303000" in error["message"]


async def test_the_router_refuses_by_its_own_budget_before_any_subgraph_runs(
    limited: Router, resources: Resources
) -> None:
    tenant = await new_tenant(resources)
    # 100 + 100 * 1: within the subgraphs' budget, over this router's.
    query = (
        "{ customers(first: 100) { edges { node { "
        "pointsTransactions(first: 1) { nodes { id } } } } } }"
    )
    async with httpx.AsyncClient(base_url=limited.url, timeout=15) as client:
        body = (await post(client, query, tenant.headers)).json()

    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 200, "maxCost": 150}


async def test_a_page_of_ten_customers_shows_its_cost(
    router: Router, resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant)
    async with httpx.AsyncClient(base_url=router.url, timeout=15) as client:
        response = await post(
            client, "{ customers(first: 10) { edges { node { id } } } }", tenant.headers
        )

    body = response.json()
    assert "errors" not in body, body
    assert len(body["data"]["customers"]["edges"]) == 1
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 10,
        "throttleStatus": {"maximumAvailable": 10_000},
    }
