"""The merchant: who the viewer is, and how a shop gets installed."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from db.models import AuditLog, Merchant
from db.session import system_unit_of_work
from subgraphs.admin.merchants.service import InvalidShopDomainError, MerchantPlan, install_merchant
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, token_for
from tests.ids import gid

MERCHANT = "{ merchant { id shopDomain plan } }"
MERCHANT_ENTITIES = """
query Merchants($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Merchant { id shopDomain plan } }
}
"""


def new_shop() -> str:
    return f"shop-{uuid.uuid4().hex[:10]}.myshopify.com"


async def merchants_for_shop(resources: Resources, shop: str) -> int:
    async with system_unit_of_work(resources.sessions) as session:
        count = await session.scalar(select(func.count()).where(Merchant.shop_domain == shop))
    return int(count or 0)


async def install(resources: Resources, shop: str, plan: MerchantPlan = MerchantPlan.FREE) -> str:
    async with system_unit_of_work(resources.sessions) as session:
        merchant = await install_merchant(session, shop, plan)
    return merchant.id


async def test_merchant_is_the_viewers_own_on_the_free_plan(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    result = await admin_client.execute(MERCHANT, tenant=tenant)

    assert result == {
        "data": {
            "merchant": {
                "id": gid("Merchant", tenant.merchant_id),
                "shopDomain": tenant.shop_domain,
                "plan": "FREE",
            }
        }
    }


async def test_merchant_entity_resolves_the_viewers_merchant(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    representations = [{"__typename": "Merchant", "id": gid("Merchant", tenant.merchant_id)}]

    result = await admin_client.execute(
        MERCHANT_ENTITIES, {"representations": representations}, tenant=tenant
    )

    assert result["data"]["_entities"] == [
        {
            "id": gid("Merchant", tenant.merchant_id),
            "shopDomain": tenant.shop_domain,
            "plan": "FREE",
        }
    ]


async def test_another_merchants_entity_is_null(
    admin_client: SubgraphClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    representations = [
        {"__typename": "Merchant", "id": gid("Merchant", other_tenant.merchant_id)},
        {"__typename": "Merchant", "id": gid("Merchant", tenant.merchant_id)},
    ]

    result = await admin_client.execute(
        MERCHANT_ENTITIES, {"representations": representations}, tenant=tenant
    )

    assert "errors" not in result
    assert result["data"]["_entities"][0] is None
    assert result["data"]["_entities"][1]["id"] == gid("Merchant", tenant.merchant_id)
    assert other_tenant.shop_domain not in str(result)


async def test_merchant_without_a_token_is_unauthenticated(admin_client: SubgraphClient) -> None:
    result = await admin_client.execute(MERCHANT)

    assert result["data"] in (None, {"merchant": None})
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


async def test_a_newly_installed_shop_can_sign_in_at_once(
    admin_client: SubgraphClient, resources: Resources
) -> None:
    shop = new_shop()
    merchant_id = await install(resources, shop, MerchantPlan.GROWTH)

    result = await admin_client.execute(
        MERCHANT, headers={"authorization": f"Bearer {token_for(shop)}"}
    )

    assert result["data"]["merchant"] == {
        "id": gid("Merchant", merchant_id),
        "shopDomain": shop,
        "plan": "GROWTH",
    }


async def test_installing_twice_keeps_one_merchant(resources: Resources) -> None:
    shop = new_shop()

    first = await install(resources, shop)
    second = await install(resources, shop)

    assert second == first
    assert await merchants_for_shop(resources, shop) == 1


async def test_installing_again_does_not_log_a_second_install(resources: Resources) -> None:
    shop = new_shop()
    merchant_id = await install(resources, shop)
    await install(resources, shop)

    async with system_unit_of_work(resources.sessions) as session:
        installs = await session.scalar(
            select(func.count()).where(
                AuditLog.merchant_id == merchant_id, AuditLog.action == "merchant_added"
            )
        )

    assert installs == 1


async def test_install_normalizes_the_shop_domain(resources: Resources) -> None:
    shop = new_shop()

    messy = await install(resources, f"  {shop.upper()}\n")
    clean = await install(resources, shop)

    assert messy == clean
    assert await merchants_for_shop(resources, shop) == 1


@pytest.mark.parametrize(
    "shop",
    [
        "evil.com",
        "",
        "myshopify.com",
        ".myshopify.com",
        "-shop.myshopify.com",
        "shop.myshopify.com.evil.com",
        "https://shop.myshopify.com",
        "shop.myshopify.com/admin",
        "sub.shop.myshopify.com",
        "sh op.myshopify.com",
    ],
)
async def test_install_rejects_what_is_not_a_myshopify_domain(
    resources: Resources, shop: str
) -> None:
    with pytest.raises(InvalidShopDomainError):
        await install(resources, shop)

    assert await merchants_for_shop(resources, shop.strip().lower()) == 0
