"""referralActivity over a real WebSocket (uvicorn + graphql-transport-ws): the day so far,
then a fresh snapshot after each referral change announced after its commit — a shopper's
claim, staff's rejection of a held referral — never another merchant's, never a change that
rolled back, and one read per event however many dashboards of the shop watch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect

from db.session import tenant_unit_of_work
from subgraphs.kit.graphql.subscriptions import snapshot_key
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.referrals.activity.service import (
    ActivityKind,
    announce_after_commit,
    current_activity,
    referral_channel,
)
from subgraphs.referrals.conversions import service as conversions
from subgraphs.referrals.conversions.service import QualifyingOrder
from subgraphs.referrals.program.service import update_referral_program
from tests.conftest import (
    StatementCounter,
    SubgraphClient,
    Tenant,
    add_customer,
    served_subgraph,
)
from tests.subgraphs.referrals.test_referral_api import (
    CLAIM,
    advocate_code,
    claimed,
    data,
    shopper,
)

ACTIVITY = """subscription { referralActivity {
  clicks uniqueVisitors referralsCreated referralsCompleted referralsRejected heldForReview
  latest { referralId status flagged } } }"""
REJECT = """mutation($id: ID!) { referralReview(input: {id: $id, decision: REJECT}) {
  rewards { side status } userErrors { code } } }"""


@pytest_asyncio.fixture(loop_scope="session")
async def referrals_url(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("referrals", resources) as url:
        yield url


async def next_message(socket: ClientConnection, seconds: float = 10) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout=seconds))
    return message


async def watch(url: str, tenant: Tenant) -> ClientConnection:
    socket = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await socket.send(
        json.dumps(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
        )
    )
    assert (await next_message(socket))["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "a", "type": "subscribe", "payload": {"query": ACTIVITY}}))
    return socket


async def activity(socket: ClientConnection) -> dict[str, Any]:
    message = await next_message(socket)
    assert message["type"] == "next", message
    result: dict[str, Any] = message["payload"]["data"]["referralActivity"]
    return result


async def test_a_claim_then_a_rejection_are_pushed_as_fresh_snapshots(
    referrals_url: str, referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    _, code = await advocate_code(resources, tenant)
    friend = await add_customer(resources, tenant)
    socket = await watch(referrals_url, tenant)
    try:
        first = await activity(socket)
        await data(
            referrals_client, CLAIM, {"code": code}, headers=shopper(resources, tenant, friend)
        )
        claimed = await activity(socket)

        # A suspicious referral completes held; staff reject it.
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await update_referral_program(
                WriteContext(session, tenant.merchant_id), {"fraud_threshold": "0"}
            )
            await conversions.complete(
                session,
                tenant.merchant_id,
                friend,
                QualifyingOrder("9001", Decimal("80.00"), datetime.now(UTC)),
                now=datetime.now(UTC),
            )
        referral_id = claimed["latest"][0]["referralId"]
        rejected = await data(referrals_client, REJECT, {"id": referral_id}, tenant=tenant)
        after_review = await activity(socket)
    finally:
        await socket.close()

    assert first == {
        "clicks": "0",
        "uniqueVisitors": "0",
        "referralsCreated": "0",
        "referralsCompleted": "0",
        "referralsRejected": "0",
        "heldForReview": "0",
        "latest": [],
    }
    assert claimed["referralsCreated"] == "1"
    assert claimed["latest"] == [{"referralId": referral_id, "status": "PENDING", "flagged": False}]
    assert rejected["referralReview"]["userErrors"] == []
    assert (after_review["referralsRejected"], after_review["heldForReview"]) == ("1", "0")
    assert after_review["latest"] == [
        {"referralId": referral_id, "status": "REJECTED", "flagged": True}
    ]


async def click_then_fail(resources: Resources, tenant: Tenant) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        announce_after_commit(session, resources.pubsub, tenant.merchant_id, ActivityKind.CLICK)
        raise RuntimeError("the write failed")


async def test_other_merchants_activity_and_rolled_back_changes_are_not_pushed(
    referrals_url: str,
    referrals_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    _, others_code = await advocate_code(resources, other_tenant)
    others_friend = await add_customer(resources, other_tenant)
    socket = await watch(referrals_url, tenant)
    try:
        await activity(socket)
        await data(
            referrals_client,
            CLAIM,
            {"code": others_code},
            headers=shopper(resources, other_tenant, others_friend),
        )
        with pytest.raises(RuntimeError):
            await click_then_fail(resources, tenant)
        with pytest.raises(TimeoutError):
            await next_message(socket, seconds=1.0)

        # The same announcement from a transaction that commits is pushed.
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            announce_after_commit(session, resources.pubsub, tenant.merchant_id, ActivityKind.CLICK)
        assert (await activity(socket))["referralsCreated"] == "0"
    finally:
        await socket.close()


async def test_every_dashboard_of_a_shop_shares_one_read_per_event(
    referrals_url: str, referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    dashboards = 5
    _, code = await advocate_code(resources, tenant)
    friend = await add_customer(resources, tenant)
    sockets = [await watch(referrals_url, tenant) for _ in range(dashboards)]
    key = snapshot_key(
        referral_channel(tenant.merchant_id), "referral_activity", tenant.merchant_id
    )
    try:
        await asyncio.gather(*(activity(socket) for socket in sockets))
        before = resources.fanout.computations(key)
        await data(
            referrals_client, CLAIM, {"code": code}, headers=shopper(resources, tenant, friend)
        )
        updates = await asyncio.gather(*(activity(socket) for socket in sockets))
        after = resources.fanout.computations(key)
    finally:
        for socket in sockets:
            await socket.close()

    assert {update["referralsCreated"] for update in updates} == {"1"}
    assert after - before == 1


async def test_a_shopper_token_cannot_watch_the_shops_activity(
    referrals_url: str, resources: Resources, tenant: Tenant
) -> None:
    customer = await add_customer(resources, tenant)
    token = shopper(resources, tenant, customer)["authorization"]
    socket = await connect(referrals_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    try:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": token}})
        )
        assert (await next_message(socket))["type"] == "connection_ack"
        await socket.send(
            json.dumps({"id": "a", "type": "subscribe", "payload": {"query": ACTIVITY}})
        )
        refused = await next_message(socket)
    finally:
        await socket.close()

    assert refused["type"] == "error" or refused["payload"].get("errors"), refused
    errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_snapshot_takes_the_same_statements_for_one_referral_or_six(
    resources: Resources, tenant: Tenant, count_statements: StatementCounter
) -> None:
    _, code = await advocate_code(resources, tenant)
    counts = []
    for friends in (1, 5):
        now = datetime.now(UTC)
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            for _ in range(friends):
                await claimed(
                    session, tenant.merchant_id, code, await add_customer(resources, tenant), now
                )
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            count_statements.statements.clear()
            snapshot = await current_activity(session, tenant.merchant_id)
            counts.append(count_statements.count)
        assert snapshot.referrals_created == len(snapshot.latest)

    assert counts[0] == counts[1] == 5
