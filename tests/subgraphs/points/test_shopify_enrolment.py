"""Enrolling a shop's Shopify customers in bulk (the backfill at install): set-based, so a
batch costs the same statements for 3 customers as for 60, and enrolling them again creates
no one twice."""

from __future__ import annotations

from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.points.orders.enrolment import Enrolment, enrol_shopify_customers
from subgraphs.points.orders.shopify_payloads import ShopifyCustomer
from tests.conftest import StatementCounter, Tenant, new_tenant


def _customers(count: int, first_id: int = 1) -> list[ShopifyCustomer]:
    return [
        ShopifyCustomer(id=str(number), email=f"shopper{number}@example.com", locale="fr")
        for number in range(first_id, first_id + count)
    ]


async def _enrol(
    resources: Resources, tenant: Tenant, customers: list[ShopifyCustomer]
) -> Enrolment:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await enrol_shopify_customers(
            session, tenant.merchant_id, resources.cipher, customers
        )


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    resources: Resources, count_statements: StatementCounter
) -> None:
    small, large = await new_tenant(resources), await new_tenant(resources)
    before = count_statements.count
    assert (await _enrol(resources, small, _customers(3))).created == 3
    for_three = count_statements.count - before
    before = count_statements.count
    assert (await _enrol(resources, large, _customers(60))).created == 60
    assert count_statements.count - before == for_three


async def test_enrolling_the_same_customers_again_creates_no_one(
    resources: Resources, tenant: Tenant
) -> None:
    assert await _enrol(resources, tenant, _customers(5)) == Enrolment(created=5)
    again = await _enrol(resources, tenant, [*_customers(5), *_customers(2, first_id=6)])
    assert again == Enrolment(created=2, already_enrolled=5)
    assert again.enrolled == 7
