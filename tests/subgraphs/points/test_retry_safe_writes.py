"""Writes an integration can retry and editors cannot clobber (issue 10, retry-safe writes):
for rewards, campaigns and VIP tiers, a repeated delete answers success with the same id
while an id that never was the shop's stays NOT_FOUND, and an update naming a stale
``expectedVersion`` is a VERSION_CONFLICT that changes nothing, even when two editors race."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import SubgraphClient, Tenant
from tests.ids import gid

NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Entity:
    """One kind of object, as a client creates, reads, renames and deletes it."""

    name: str  # the mutations' prefix: rewardCreate, campaignCreate, vipTierCreate
    field: str  # the payload's object field
    deleted_id: str  # the delete payload's id field
    create_input: dict[str, Any]
    rename: str  # an input field that changes nothing else
    read: str  # selection of the object's changeable field
    type_name: str  # its GraphQL type, as its global IDs name it

    def create(self) -> str:
        return f"""mutation($input: {self.input_type("Create")}!) {{
          {self.name}Create(input: $input) {{
            {self.field} {{ id version {self.read} }} userErrors {{ code }}
          }}
        }}"""

    def update(self) -> str:
        return f"""mutation($input: {self.input_type("Update")}!) {{
          {self.name}Update(input: $input) {{
            {self.field} {{ id version {self.read} }} userErrors {{ field code message }}
          }}
        }}"""

    def delete(self) -> str:
        return f"""mutation($input: {self.input_type("Delete")}!) {{
          {self.name}Delete(input: $input) {{ {self.deleted_id} userErrors {{ code }} }}
        }}"""

    def input_type(self, verb: str) -> str:
        return f"{self.name[0].upper()}{self.name[1:]}{verb}Input"


REWARD = Entity(
    "reward",
    "reward",
    "deletedRewardId",
    {"kind": "FIXED_AMOUNT", "title": "$5 off", "pointsCost": 500, "value": "5.00"},
    "title",
    "title",
    "Reward",
)
CAMPAIGN = Entity(
    "campaign",
    "campaign",
    "deletedCampaignId",
    {
        "name": "Double days",
        "kind": "DOUBLE_POINTS",
        "multiplier": "2",
        "startsAt": (NOW - timedelta(hours=1)).isoformat(),
        "endsAt": (NOW + timedelta(days=1)).isoformat(),
    },
    "name",
    "name",
    "BonusCampaign",
)
TIER = Entity(
    "vipTier",
    "vipTier",
    "deletedVipTierId",
    {"names": [{"locale": "en", "value": "Gold"}], "rank": 1, "rules": {"minPointsEarned": 100}},
    "rank",
    "rank",
    "VipTier",
)
ENTITIES = pytest.mark.parametrize("entity", [REWARD, CAMPAIGN, TIER], ids=lambda e: e.name)
NOT_FOUND = {"reward": "REWARD_NOT_FOUND", "campaign": "CAMPAIGN_NOT_FOUND"}


def not_found(entity: Entity) -> str:
    return NOT_FOUND.get(entity.name, "TIER_NOT_FOUND")


def renamed(entity: Entity, round_: int) -> Any:
    return 2 + round_ if entity.rename == "rank" else f"Renamed {round_}"


async def payload(
    client: SubgraphClient, tenant: Tenant, query: str, input_: dict[str, Any]
) -> dict[str, Any]:
    body = await client.execute(query, {"input": input_}, tenant=tenant)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = next(iter(body["data"].values()))
    return result


async def create(client: SubgraphClient, tenant: Tenant, entity: Entity) -> dict[str, Any]:
    created = await payload(
        client,
        tenant,
        entity.create(),
        {**entity.create_input, "idempotencyKey": f"test:{uuid.uuid4()}"},
    )
    assert created["userErrors"] == []
    made: dict[str, Any] = created[entity.field]
    return made


@ENTITIES
async def test_a_repeated_delete_answers_the_same_id(
    points_client: SubgraphClient, tenant: Tenant, other_tenant: Tenant, entity: Entity
) -> None:
    made = await create(points_client, tenant, entity)

    first = await payload(points_client, tenant, entity.delete(), {"id": made["id"]})
    again = await payload(points_client, tenant, entity.delete(), {"id": made["id"]})
    # The record of the deletion is the shop's: for another shop the id was never there.
    elsewhere = await payload(points_client, other_tenant, entity.delete(), {"id": made["id"]})
    never = gid(entity.type_name, str(uuid.uuid4()))
    unknown = await payload(points_client, tenant, entity.delete(), {"id": never})

    assert first == {entity.deleted_id: made["id"], "userErrors": []}
    assert again == first
    assert elsewhere[entity.deleted_id] is None
    assert elsewhere["userErrors"] == [{"code": not_found(entity)}]
    assert unknown["userErrors"] == [{"code": not_found(entity)}]


@ENTITIES
async def test_a_stale_expected_version_changes_nothing(
    points_client: SubgraphClient, tenant: Tenant, entity: Entity
) -> None:
    made = await create(points_client, tenant, entity)
    assert made["version"] == 1

    current = await payload(
        points_client,
        tenant,
        entity.update(),
        {"id": made["id"], "expectedVersion": 1, entity.rename: renamed(entity, 1)},
    )
    stale = await payload(
        points_client,
        tenant,
        entity.update(),
        {"id": made["id"], "expectedVersion": 1, entity.rename: renamed(entity, 2)},
    )
    unguarded = await payload(
        points_client,
        tenant,
        entity.update(),
        {"id": made["id"], entity.rename: renamed(entity, 3)},
    )

    assert current["userErrors"] == []
    assert current[entity.field]["version"] == 2
    assert current[entity.field][entity.read] == renamed(entity, 1)
    assert stale[entity.field] is None
    assert [(e["field"], e["code"]) for e in stale["userErrors"]] == [
        (["input", "expectedVersion"], "VERSION_CONFLICT")
    ]
    assert "version 2" in stale["userErrors"][0]["message"]
    # Without expectedVersion the last write wins, over the version the stale one did not touch.
    assert unguarded[entity.field]["version"] == 3
    assert unguarded[entity.field][entity.read] == renamed(entity, 3)


@ENTITIES
async def test_of_two_editors_of_one_version_exactly_one_wins(
    points_client: SubgraphClient, tenant: Tenant, entity: Entity
) -> None:
    made = await create(points_client, tenant, entity)

    results = await asyncio.gather(
        *(
            payload(
                points_client,
                tenant,
                entity.update(),
                {"id": made["id"], "expectedVersion": 1, entity.rename: renamed(entity, n)},
            )
            for n in range(4)
        )
    )

    winners = [result for result in results if not result["userErrors"]]
    losers = [result for result in results if result["userErrors"]]
    assert len(winners) == 1
    assert {error["code"] for result in losers for error in result["userErrors"]} == {
        "VERSION_CONFLICT"
    }
    assert winners[0][entity.field]["version"] == 2
