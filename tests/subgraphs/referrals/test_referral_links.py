"""Referral links: one shareable code per customer, only ever visible to its own merchant."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import func, select

from db.models import ReferralLink
from db.session import system_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.referrals.service import CODE_ALPHABET, CODE_LENGTH
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid

CREATE = """
mutation Create($input: ReferralLinkCreateInput!) {
  referralLinkCreate(input: $input) {
    referralLink { code url clicks }
    userErrors { field message code }
  }
}
"""

LINKS_OF_CUSTOMERS = """
query Links($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Customer { id referralLink { code clicks } }
  }
}
"""

BY_CODE = "query ByCode($code: String!) { referralLink(code: $code) { code url clicks } }"

UNAMBIGUOUS_CODE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


async def create_link(client: SubgraphClient, tenant: Tenant, customer_id: str) -> dict[str, Any]:
    result = await client.execute(
        CREATE, {"input": {"customerId": gid("Customer", customer_id)}}, tenant=tenant
    )
    payload: dict[str, Any] = result["data"]["referralLinkCreate"]
    return payload


async def links_in_database(resources: Resources, merchant_id: str) -> int:
    async with system_unit_of_work(resources.sessions) as session:
        count = await session.scalar(
            select(func.count()).where(ReferralLink.merchant_id == merchant_id)
        )
    return int(count or 0)


def customer_refs(*customer_ids: str) -> dict[str, Any]:
    return {
        "representations": [
            {"__typename": "Customer", "id": gid("Customer", cid)} for cid in customer_ids
        ]
    }


def test_codes_avoid_characters_people_confuse() -> None:
    assert not set(CODE_ALPHABET) & set("0O1IL")
    assert CODE_LENGTH == 8


async def test_create_returns_a_readable_code_and_a_storefront_url(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    payload = await create_link(referrals_client, tenant, customer_id)

    assert payload["userErrors"] == []
    link = payload["referralLink"]
    assert UNAMBIGUOUS_CODE.match(link["code"]), link["code"]
    assert link["url"] == f"https://{tenant.shop_domain}/apps/loyalnest/r/{link['code']}"
    assert link["clicks"] == "0"
    assert await links_in_database(resources, tenant.merchant_id) == 1


async def test_creating_again_returns_the_customers_existing_link(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    first = await create_link(referrals_client, tenant, customer_id)
    again = await create_link(referrals_client, tenant, customer_id)

    assert again["userErrors"] == []
    assert again["referralLink"] == first["referralLink"]
    assert await links_in_database(resources, tenant.merchant_id) == 1


async def test_each_customer_gets_a_distinct_code(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customers = [await add_customer(resources, tenant) for _ in range(5)]

    codes = {
        (await create_link(referrals_client, tenant, c))["referralLink"]["code"] for c in customers
    }

    assert len(codes) == 5


async def test_an_unknown_customer_is_a_user_error(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    payload = await create_link(referrals_client, tenant, str(uuid.uuid4()))

    assert payload["referralLink"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("CUSTOMER_NOT_FOUND", ["input", "customerId"])
    ]
    assert await links_in_database(resources, tenant.merchant_id) == 0


async def test_another_merchants_customer_is_not_found_and_gets_no_link(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    victim = await add_customer(resources, other_tenant)

    payload = await create_link(referrals_client, tenant, victim)

    assert payload["referralLink"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["CUSTOMER_NOT_FOUND"]
    assert await links_in_database(resources, tenant.merchant_id) == 0
    assert await links_in_database(resources, other_tenant.merchant_id) == 0


async def test_create_without_a_token_is_unauthenticated(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    result = await referrals_client.execute(
        CREATE, {"input": {"customerId": gid("Customer", customer_id)}}
    )

    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]
    assert await links_in_database(resources, tenant.merchant_id) == 0


async def test_customer_entities_resolve_their_links_in_one_query(
    referrals_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    with_links = [await add_customer(resources, tenant) for _ in range(4)]
    codes = [
        (await create_link(referrals_client, tenant, c))["referralLink"]["code"] for c in with_links
    ]
    without_link = await add_customer(resources, tenant)
    count_statements.statements.clear()

    result = await referrals_client.execute(
        LINKS_OF_CUSTOMERS, customer_refs(*with_links, without_link), tenant=tenant
    )

    assert "errors" not in result
    assert result["data"]["_entities"] == [
        *(
            {"id": gid("Customer", c), "referralLink": {"code": code, "clicks": "0"}}
            for c, code in zip(with_links, codes, strict=True)
        ),
        {"id": gid("Customer", without_link), "referralLink": None},
    ]
    link_queries = [s for s in count_statements.statements if "referral_links" in s]
    assert len(link_queries) == 1, link_queries


async def test_another_merchants_customer_entity_has_no_link(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = await add_customer(resources, tenant)
    theirs = await add_customer(resources, other_tenant)
    await create_link(referrals_client, tenant, ours)
    await create_link(referrals_client, other_tenant, theirs)

    result = await referrals_client.execute(
        LINKS_OF_CUSTOMERS, customer_refs(theirs, ours), tenant=tenant
    )

    entities = result["data"]["_entities"]
    assert entities[0] == {"id": gid("Customer", theirs), "referralLink": None}
    assert entities[1]["referralLink"] is not None


async def test_a_link_is_found_by_its_code_in_any_case(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    link = (await create_link(referrals_client, tenant, customer_id))["referralLink"]

    exact = await referrals_client.execute(BY_CODE, {"code": link["code"]}, tenant=tenant)
    typed = await referrals_client.execute(
        BY_CODE, {"code": f"  {link['code'].lower()} "}, tenant=tenant
    )

    assert exact["data"]["referralLink"] == link
    assert typed["data"]["referralLink"] == link


async def test_an_unknown_code_finds_nothing(
    referrals_client: SubgraphClient, tenant: Tenant
) -> None:
    result = await referrals_client.execute(BY_CODE, {"code": "ZZZZZZZZ"}, tenant=tenant)

    assert result == {"data": {"referralLink": None}}


async def test_another_merchants_code_finds_nothing(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await add_customer(resources, other_tenant)
    code = (await create_link(referrals_client, other_tenant, theirs))["referralLink"]["code"]

    result = await referrals_client.execute(BY_CODE, {"code": code}, tenant=tenant)

    assert result == {"data": {"referralLink": None}}
