"""Creates that are safe to retry (rewardCreate, campaignCreate, vipTierCreate): the same key
with the same input returns the first attempt's object with no second row or audit entry,
however many retries race; another input under the key is IDEMPOTENCY_KEY_REUSED. Campaign
names are unique in Postgres, so racing creates of one name cannot both succeed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import AuditLog, BonusCampaign, Reward, VipTier
from db.models.base import Base
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.points.campaigns.repository import CampaignNameTaken, CampaignRepository
from tests.conftest import SubgraphClient, Tenant
from tests.ids import row_id
from tests.subgraphs.points import test_campaigns, test_rewards, test_tiers


@dataclass(frozen=True)
class Create:
    mutation: str
    field: str
    result: str
    model: type[Base]
    audit_action: str
    # The input under a key; ``variant`` changes it (another request).
    build: Callable[[str, bool], dict[str, Any]]


def _reward(key: str, variant: bool) -> dict[str, Any]:
    return test_rewards.five_off(idempotencyKey=key, pointsCost=600 if variant else 500)


def _campaign(key: str, variant: bool) -> dict[str, Any]:
    return test_campaigns.campaign_input(idempotencyKey=key, multiplier="3" if variant else "2")


def _tier(key: str, variant: bool) -> dict[str, Any]:
    rules = {"minPointsEarned": 200 if variant else 100}
    return test_tiers.keyed(test_tiers.tier_input("Silver", 1, rules), key)


CREATES = {
    "reward": Create(
        test_rewards.CREATE, "rewardCreate", "reward", Reward, "reward_created", _reward
    ),
    "campaign": Create(
        test_campaigns.CREATE,
        "campaignCreate",
        "campaign",
        BonusCampaign,
        "campaign_created",
        _campaign,
    ),
    "tier": Create(test_tiers.CREATE, "vipTierCreate", "vipTier", VipTier, "tier_created", _tier),
}


async def _create(
    client: SubgraphClient, tenant: Tenant, create: Create, variables: dict[str, Any]
) -> dict[str, Any]:
    body = await client.execute(create.mutation, {"input": variables}, tenant=tenant)
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"][create.field]
    return payload


async def _counts(resources: Resources, tenant: Tenant, create: Create) -> tuple[int, int]:
    """The merchant's rows of the created kind, and their creation audit entries."""
    table = create.model.__table__
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalar(
            select(func.count()).select_from(table).where(table.c.merchant_id == tenant.merchant_id)
        )
        audits = await session.scalar(
            select(func.count()).where(
                AuditLog.merchant_id == tenant.merchant_id, AuditLog.action == create.audit_action
            )
        )
    return int(rows or 0), int(audits or 0)


@pytest.mark.parametrize("kind", list(CREATES))
async def test_a_retry_with_the_same_key_returns_the_same_object(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, kind: str
) -> None:
    create = CREATES[kind]
    first = await _create(points_client, tenant, create, create.build("create:1", False))
    again = await _create(points_client, tenant, create, create.build("create:1", False))

    assert first["userErrors"] == again["userErrors"] == []
    assert first[create.result] is not None
    assert again[create.result]["id"] == first[create.result]["id"]
    assert await _counts(resources, tenant, create) == (1, 1)


@pytest.mark.parametrize("kind", list(CREATES))
async def test_concurrent_retries_with_one_key_create_exactly_one(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, kind: str
) -> None:
    create = CREATES[kind]

    payloads = await asyncio.gather(
        *(
            _create(points_client, tenant, create, create.build("create:race", False))
            for _ in range(10)
        )
    )

    assert all(payload["userErrors"] == [] for payload in payloads)
    assert len({payload[create.result]["id"] for payload in payloads}) == 1
    assert await _counts(resources, tenant, create) == (1, 1)


@pytest.mark.parametrize("kind", list(CREATES))
async def test_another_input_under_a_used_key_is_refused(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, kind: str
) -> None:
    create = CREATES[kind]
    await _create(points_client, tenant, create, create.build("create:2", False))

    reused = await _create(points_client, tenant, create, create.build("create:2", True))

    assert reused[create.result] is None
    assert [(e["field"], e["code"]) for e in reused["userErrors"]] == [
        (["input", "idempotencyKey"], "IDEMPOTENCY_KEY_REUSED")
    ]
    assert await _counts(resources, tenant, create) == (1, 1)


@pytest.mark.parametrize("kind", list(CREATES))
async def test_a_key_is_one_merchants(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    kind: str,
) -> None:
    create = CREATES[kind]
    mine = await _create(points_client, tenant, create, create.build("create:3", False))
    theirs = await _create(points_client, other_tenant, create, create.build("create:3", True))

    assert theirs["userErrors"] == []
    assert theirs[create.result]["id"] != mine[create.result]["id"]
    assert await _counts(resources, other_tenant, create) == (1, 1)


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
async def test_an_invalid_key_is_a_user_error(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, key: str
) -> None:
    create = CREATES["reward"]

    payload = await _create(points_client, tenant, create, create.build(key, False))

    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "idempotencyKey"], "INVALID_IDEMPOTENCY_KEY")
    ]
    assert await _counts(resources, tenant, create) == (0, 0)


async def test_racing_creates_of_one_campaign_name_make_one_campaign(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    create = CREATES["campaign"]

    payloads = await asyncio.gather(
        *(
            _create(points_client, tenant, create, create.build(f"name-race:{n}", False))
            for n in range(10)
        )
    )

    created = [payload for payload in payloads if payload["campaign"] is not None]
    refused = [payload["userErrors"] for payload in payloads if payload["campaign"] is None]
    assert len(created) == 1
    assert (
        refused
        == [
            [
                {
                    "field": ["input", "name"],
                    "message": refused[0][0]["message"],
                    "code": "INVALID_CAMPAIGN",
                }
            ]
        ]
        * 9
    )
    assert "another campaign is named" in refused[0][0]["message"]
    assert await _counts(resources, tenant, create) == (1, 1)


async def test_a_rename_racing_into_a_taken_name_is_caught_by_postgres(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    # The service checks the name first; this is the race past that check, at the repository.
    await test_campaigns.create_campaign(points_client, tenant, name="Black Friday")
    other = await test_campaigns.create_campaign(points_client, tenant, name="Cyber Monday")

    with pytest.raises(CampaignNameTaken):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await CampaignRepository(session, tenant.merchant_id).update_campaign(
                row_id(other["id"]), {"name": "Black Friday"}
            )
