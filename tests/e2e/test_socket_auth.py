"""Who may keep a WebSocket to the router open (graphql-transport-ws), with a real client
through the real router: a missing, forged or expired token is closed with 4401 at
connection_init, within a second and with a reason; a socket is closed with 4401 "token
expired" when its token expires; a token the subgraphs refuse to let subscribe closes the
client's socket with their code. And one request id per request, shared by router and
subgraphs."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from db.session import tenant_unit_of_work
from gateway.edge.auth.tokens import mint_staff_token
from subgraphs.kit.api_keys import create_api_key
from subgraphs.kit.auth import API_KEY_PREFIX
from subgraphs.kit.permissions import Capability
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, token_for
from tests.e2e.conftest import Router, another_router

METRICS = "subscription { loyaltyMetricsUpdated { membersCount } }"


@dataclass(frozen=True)
class Closed:
    code: int
    reason: str


async def answer_of(socket: ClientConnection) -> dict[str, Any] | Closed:
    """The router's next message, or how it closed the socket (code and reason)."""
    try:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 5))
    except ConnectionClosed as closed:
        if closed.rcvd is None:
            return Closed(-1, "closed without a close frame")
        return Closed(closed.rcvd.code, closed.rcvd.reason)
    return message


async def subscribe_to_metrics(socket: ClientConnection) -> dict[str, Any]:
    """Subscribes to the live metrics; their current values come at once."""
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": METRICS}}))
    current = await answer_of(socket)
    assert isinstance(current, dict), current
    assert current["type"] == "next", current
    return current


async def init(socket: ClientConnection, payload: dict[str, Any]) -> None:
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_socket(router: Router) -> Any:
    return connect(router.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "a bearer token is required"),
        (bearer("not-a-jwt"), "invalid token: neither a JWT nor a LoyalNest API key"),
        ({"Authorization": "Basic abc"}, "Authorization must be 'Bearer <token>'"),
        # A session token whose signature is not the app's.
        (bearer(f"{token_for('forged.myshopify.com').rsplit('.', 1)[0]}.c2ln"), "invalid session"),
        # Expired a minute ago, past the clock-skew leeway.
        (
            bearer(token_for("late.myshopify.com", now=int(time.time()) - 120, ttl_seconds=60)),
            "session token expired",
        ),
    ],
    ids=["missing", "not-a-token", "not-bearer", "forged", "expired"],
)
async def test_a_missing_or_bad_token_is_closed_with_4401_at_connection_init(
    router: Router, payload: dict[str, Any], reason: str
) -> None:
    async with open_socket(router) as socket:
        started = time.monotonic()
        await init(socket, payload)
        answer = await answer_of(socket)
        seconds = time.monotonic() - started

    assert isinstance(answer, Closed), answer
    assert answer.code == 4401
    assert answer.reason.startswith(reason)
    assert seconds < 1


async def test_a_good_token_is_acknowledged_and_served(router: Router, tenant: Tenant) -> None:
    async with open_socket(router) as socket:
        await init(socket, bearer(tenant.token))
        ack = await answer_of(socket)
        current = await subscribe_to_metrics(socket)

    assert ack == {"type": "connection_ack"}
    assert current["payload"]["data"]["loyaltyMetricsUpdated"]["membersCount"] == "0"


async def test_a_live_api_key_is_acknowledged_and_served(
    router: Router, resources: Resources, tenant: Tenant
) -> None:
    # The router cannot verify an API key itself: the subgraph it asks finds it live.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        created = await create_api_key(
            session, tenant.merchant_id, label="dashboard", scopes=[Capability.READ_ANALYTICS]
        )
    async with open_socket(router) as socket:
        await init(socket, bearer(created.key))
        ack = await answer_of(socket)
        current = await subscribe_to_metrics(socket)

    assert ack == {"type": "connection_ack"}
    assert "errors" not in current["payload"], current


async def test_a_socket_is_closed_with_4401_when_its_token_expires(
    router: Router, tenant: Tenant
) -> None:
    token = token_for(tenant.shop_domain, ttl_seconds=2)
    async with open_socket(router) as socket:
        await init(socket, bearer(token))
        assert await answer_of(socket) == {"type": "connection_ack"}
        await subscribe_to_metrics(socket)

        ended = await answer_of(socket)

    assert ended == Closed(4401, "token expired")


def staff_without_mfa(resources: Resources, tenant: Tenant) -> str:
    return mint_staff_token(
        shop_domain=tenant.shop_domain,
        staff_id="s-1",
        roles=["admin:full"],
        secret=resources.settings.staff_token_secret,
        mfa=False,
    )


# Tokens that verify at the router, refused by what only the subgraphs know (the database,
# kit/permissions.py): the router passes on the subgraph's refusal, at connection_init.
@pytest.mark.parametrize(
    ("credential", "code"),
    [
        # A staff token without MFA holds no capability at all.
        (staff_without_mfa, 4403),
        # Well signed, for a shop that never installed LoyalNest.
        (lambda resources, tenant: token_for("never-installed.myshopify.com"), 4401),
        # An API key's form (kit.api_keys), but no such key.
        (lambda resources, tenant: f"{API_KEY_PREFIX}{tenant.merchant_id}_{'x' * 43}", 4401),
    ],
    ids=["staff-without-mfa", "shop-not-installed", "unknown-api-key"],
)
async def test_what_the_subgraphs_refuse_is_refused_at_connection_init(
    router: Router,
    resources: Resources,
    tenant: Tenant,
    credential: Callable[[Resources, Tenant], str],
    code: int,
) -> None:
    async with open_socket(router) as socket:
        started = time.monotonic()
        await init(socket, bearer(credential(resources, tenant)))
        answer = await answer_of(socket)
        seconds = time.monotonic() - started

    assert isinstance(answer, Closed), answer
    assert answer.code == code
    assert seconds < 1


# -- one request id per request, router and subgraphs ---------------------------------------


@dataclass
class Wiretap:
    """An HTTP proxy in front of a real subgraph that records the x-request-id of every
    request the router sends it."""

    url: str
    request_ids: list[str | None] = field(default_factory=list)


@contextmanager
def wiretap(upstream: str) -> Iterator[Wiretap]:
    client = httpx.Client(timeout=15)

    class Forward(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            tap.request_ids.append(self.headers.get("x-request-id"))
            headers = {
                name: value
                for name, value in self.headers.items()
                if name.lower() not in {"host", "content-length", "connection"}
            }
            answer = client.post(upstream, content=body, headers=headers)
            self.send_response(answer.status_code)
            self.send_header("content-type", answer.headers.get("content-type", ""))
            self.send_header("content-length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    tap = Wiretap(url=f"http://127.0.0.1:{server.server_address[1]}/graphql")
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tap
    finally:
        server.shutdown()
        server.server_close()
        client.close()


@pytest.fixture(scope="module")
def tapped(router: Router) -> Iterator[tuple[Router, Wiretap]]:
    with (
        wiretap(router.env["LOYALNEST_ADMIN_URL"]) as tap,
        another_router(router, LOYALNEST_ADMIN_URL=tap.url) as tapped_router,
    ):
        yield tapped_router, tap


MERCHANT = "{ merchant { shopDomain } }"


async def merchant_query(
    router: Router, tenant: Tenant, request_id: str | None = None
) -> httpx.Response:
    """One query the tapped (admin) subgraph answers, with the client's request id if given."""
    headers = {**tenant.headers, **({"x-request-id": request_id} if request_id else {})}
    async with httpx.AsyncClient(timeout=15) as http:
        response = await http.post(router.url, json={"query": MERCHANT}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["merchant"]["shopDomain"] == tenant.shop_domain
    return response


async def test_the_clients_request_id_reaches_the_subgraph_and_comes_back(
    tapped: tuple[Router, Wiretap], tenant: Tenant
) -> None:
    tapped_router, tap = tapped
    request_id = f"req-{uuid.uuid4().hex}"

    response = await merchant_query(tapped_router, tenant, request_id)

    assert response.headers["x-request-id"] == request_id
    assert request_id in tap.request_ids


async def test_a_request_without_an_id_gets_one_shared_with_the_subgraph(
    tapped: tuple[Router, Wiretap], tenant: Tenant
) -> None:
    tapped_router, tap = tapped

    answers = [await merchant_query(tapped_router, tenant) for _ in range(2)]

    ids = [answer.headers.get("x-request-id") for answer in answers]
    assert None not in ids
    assert ids[0] != ids[1]
    assert set(ids) <= set(tap.request_ids), (ids, tap.request_ids)


async def test_a_request_id_the_subgraphs_would_not_keep_is_replaced_by_one_they_share(
    tapped: tuple[Router, Wiretap], tenant: Tenant
) -> None:
    # Subgraphs keep ids of [A-Za-z0-9._:-]{1,64} (kit/graphql/context.py) and log their own
    # in place of any other: the router replaces it, so both logs still share one id.
    tapped_router, tap = tapped
    unusable = "x" * 65

    response = await merchant_query(tapped_router, tenant, unusable)

    request_id = response.headers["x-request-id"]
    assert request_id != unusable
    assert request_id in tap.request_ids
    assert unusable not in tap.request_ids
