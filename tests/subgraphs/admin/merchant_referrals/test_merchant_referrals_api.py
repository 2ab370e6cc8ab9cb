"""Merchant referrals in admin: a shop reads its own code and link and the shops it referred;
`merchantReferrals` shows LoyalNest staff with admin:full every shop's (by status), and anyone
else only the referrals their shop is party to — never another shop's."""

from __future__ import annotations

from typing import Any

from db.session import system_unit_of_work
from gateway.edge.auth.tokens import mint_customer_token
from subgraphs.admin.merchant_referrals.service import (
    complete_at_install,
    merchant_named_by,
    referral_code_of,
)
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer, new_tenant
from tests.subgraphs.admin.test_admin_permissions import codes, staff_headers

PROGRAM = """
{ merchantReferral { code url referredShops(first: 10) {
    nodes { advocateShopDomain referredShopDomain status advocateRewardMonths
            referredRewardMonths completedAt } } } }
"""
REFERRALS = """
query Referrals($status: MerchantReferralStatus, $first: Int) {
  merchantReferrals(status: $status, first: $first) {
    nodes { advocateShopDomain referredShopDomain status }
    pageInfo { hasNextPage }
  }
}
"""


async def refer(resources: Resources, advocate: Tenant, referred: Tenant) -> None:
    """``referred``'s first install with ``advocate``'s code, as the OAuth callback runs it."""
    async with system_unit_of_work(resources.sessions) as session:
        merchant = await MerchantsRepository(session).merchant_by_id(referred.merchant_id)
        assert merchant is not None
        completed = await complete_at_install(
            WriteContext(session, referred.merchant_id),
            merchant,
            referral_code_of(advocate.merchant_id),
            first_install=True,
        )
    assert completed is not None


def shops(result: dict[str, Any]) -> set[tuple[str, str]]:
    nodes = result["data"]["merchantReferrals"]["nodes"]
    return {(node["advocateShopDomain"], node["referredShopDomain"]) for node in nodes}


async def test_a_merchant_reads_its_code_link_and_the_shops_it_referred(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    await refer(resources, tenant, other_tenant)

    result = await admin_client.execute(PROGRAM, tenant=tenant)

    program = result["data"]["merchantReferral"]
    assert merchant_named_by(program["code"]) == tenant.merchant_id
    assert program["url"] == f"{resources.settings.app_url}/m/{program['code']}"
    [shop] = program["referredShops"]["nodes"]
    assert shop["advocateShopDomain"] == tenant.shop_domain
    assert shop["referredShopDomain"] == other_tenant.shop_domain
    assert (shop["status"], shop["advocateRewardMonths"], shop["referredRewardMonths"]) == (
        "COMPLETED",
        1,
        1,
    )
    assert shop["completedAt"] is not None
    # The referred shop referred no one.
    referred = await admin_client.execute(PROGRAM, tenant=other_tenant)
    assert referred["data"]["merchantReferral"]["referredShops"]["nodes"] == []


async def test_each_shop_sees_the_referrals_it_is_party_to_and_no_others(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    outsider, elsewhere_a, elsewhere_b = [await new_tenant(resources) for _ in range(3)]
    await refer(resources, tenant, other_tenant)
    await refer(resources, elsewhere_a, elsewhere_b)
    ours = {(tenant.shop_domain, other_tenant.shop_domain)}

    as_advocate = await admin_client.execute(REFERRALS, tenant=tenant)
    as_referred = await admin_client.execute(REFERRALS, tenant=other_tenant)
    as_outsider = await admin_client.execute(REFERRALS, tenant=outsider)

    assert shops(as_advocate) == ours
    assert shops(as_referred) == ours
    assert shops(as_outsider) == set()


async def test_staff_with_admin_full_see_every_shops_referrals_by_status(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    third = await new_tenant(resources)
    await refer(resources, tenant, other_tenant)
    await refer(resources, other_tenant, third)
    # Staff act with a token naming some shop (a shop party to neither referral).
    bystander = await new_tenant(resources)

    full = await admin_client.execute(
        REFERRALS,
        {"status": "COMPLETED", "first": 100},
        headers=staff_headers(resources, bystander, "admin:full"),
    )
    expired = await admin_client.execute(
        REFERRALS, {"status": "EXPIRED"}, headers=staff_headers(resources, bystander, "admin:full")
    )
    support = await admin_client.execute(
        REFERRALS, headers=staff_headers(resources, bystander, "admin:support")
    )
    no_mfa = await admin_client.execute(
        REFERRALS, headers=staff_headers(resources, bystander, "admin:full", mfa=False)
    )

    assert {
        (tenant.shop_domain, other_tenant.shop_domain),
        (other_tenant.shop_domain, third.shop_domain),
    } <= shops(full)
    assert shops(expired) == set()
    # Other staff roles see what the shop they act on may see: here, nothing.
    assert shops(support) == set()
    assert codes(no_mfa) == ["FORBIDDEN"]


async def test_a_customer_token_cannot_read_merchant_referrals(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    token = mint_customer_token(
        shop_domain=tenant.shop_domain,
        customer_id=customer_id,
        secret=resources.settings.token_secret,
    )

    result = await admin_client.execute(REFERRALS, headers={"authorization": f"Bearer {token}"})

    assert codes(result) == ["FORBIDDEN"]


PAGE = """
query Page($first: Int, $after: String) {
  merchantReferrals(first: $first, after: $after) {
    nodes { referredShopDomain }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_the_list_pages_newest_first_in_one_statement_a_page(
    admin_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    referred = [await new_tenant(resources) for _ in range(3)]
    for shop in referred:
        await refer(resources, tenant, shop)

    first = await admin_client.execute(PAGE, {"first": 2}, tenant=tenant)
    after = first["data"]["merchantReferrals"]["pageInfo"]["endCursor"]
    count_statements.statements.clear()  # the viewer is known by now
    rest = await admin_client.execute(PAGE, {"first": 2, "after": after}, tenant=tenant)
    statements = count_statements.statements[:]

    seen = [
        node["referredShopDomain"]
        for page in (first, rest)
        for node in page["data"]["merchantReferrals"]["nodes"]
    ]
    assert seen == [shop.shop_domain for shop in reversed(referred)]
    assert first["data"]["merchantReferrals"]["pageInfo"]["hasNextPage"] is True
    assert rest["data"]["merchantReferrals"]["pageInfo"]["hasNextPage"] is False
    assert count_statements.count == 1, statements  # one page, one statement
