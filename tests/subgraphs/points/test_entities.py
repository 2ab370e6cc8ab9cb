"""The points subgraph's side of ``node(id:)``: the router fetches a refetched object's fields
with ``_entities``, and each type's ``resolve_reference`` answers only the viewer's own rows,
a batch of them in one statement."""

from __future__ import annotations

from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.points.test_redemption import new_reward

ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Reward { id title }
    ... on Customer { id pointsBalance }
  }
}
"""


def refs(type_name: str, *row_ids: str) -> dict[str, object]:
    return {
        "representations": [{"__typename": type_name, "id": gid(type_name, i)} for i in row_ids]
    }


async def test_another_shops_reward_and_customer_resolve_to_null(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await new_reward(resources, tenant, title="Mine")
    theirs = await new_reward(resources, other_tenant, title="Theirs")
    their_customer = await add_customer(resources, other_tenant, points=5)

    rewards = await points_client.execute(ENTITIES, refs("Reward", theirs, mine), tenant=tenant)
    customers = await points_client.execute(
        ENTITIES, refs("Customer", their_customer), tenant=tenant
    )

    assert "errors" not in rewards, rewards
    assert rewards["data"]["_entities"] == [None, {"id": gid("Reward", mine), "title": "Mine"}]
    assert customers == {"data": {"_entities": [None]}}


async def test_many_rewards_are_one_statement(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    rewards = [await new_reward(resources, tenant, title=f"R{n}") for n in range(20)]
    count_statements.statements.clear()

    body = await points_client.execute(ENTITIES, refs("Reward", *rewards), tenant=tenant)

    assert [entity["title"] for entity in body["data"]["_entities"]] == [f"R{n}" for n in range(20)]
    reads = [s for s in count_statements.statements if "FROM rewards" in s]
    assert len(reads) == 1, reads
