"""After customers/redact the API says so: email is null and redactedAt is set, while the
accounting (balance, lifetime points) still reads as before."""

from __future__ import annotations

from datetime import UTC, datetime

from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.admin.gdpr.people import Person, redact

CUSTOMER = """
query($id: ID!) { customer(id: $id) { email redactedAt pointsBalance totalPointsEarned } }
"""


async def test_a_redacted_customer_has_no_email_and_says_when_it_went(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    customer_id = await add_customer(resources, tenant, email=person.email, points=40)
    before = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, tenant=tenant
    )
    assert before["data"]["customer"] == {
        "email": person.email,
        "redactedAt": None,
        "pointsBalance": "40",
        "totalPointsEarned": "40",
    }

    started = datetime.now(UTC)
    await redact(resources, tenant, person, [])
    after = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, tenant=tenant
    )

    assert "errors" not in after, after
    customer = after["data"]["customer"]
    assert customer["email"] is None  # not a placeholder address a client might mail
    redacted_at = datetime.fromisoformat(customer["redactedAt"])
    assert started <= redacted_at <= datetime.now(UTC)
    assert (customer["pointsBalance"], customer["totalPointsEarned"]) == ("40", "40")

    # A second customers/redact finds no one and keeps the first erasure's time.
    await redact(resources, tenant, person, [])
    again = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, tenant=tenant
    )
    assert again["data"]["customer"]["redactedAt"] == customer["redactedAt"]
