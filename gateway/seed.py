"""Demo data: one merchant and a few customers with some history. Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass

from db.crypto import FieldCipher
from db.session import (
    create_engine,
    create_session_factory,
    system_unit_of_work,
    tenant_unit_of_work,
)
from subgraphs.admin.service import install_merchant
from subgraphs.kit.settings import Settings
from subgraphs.points.service import (
    EarnPoints,
    PointsError,
    PointsErrorCode,
    earn_points,
    register_customer,
)
from subgraphs.referrals.service import create_referral_link

DEMO_CUSTOMERS = (
    ("ada@example.com", 1200),
    ("grace@example.com", 450),
    ("linus@example.com", 80),
    ("margaret@example.com", 2600),
    ("alan@example.com", 0),
)


@dataclass(frozen=True)
class SeedResult:
    merchant_id: str
    customer_ids: list[str]


async def seed_demo(settings: Settings, shop_domain: str) -> SeedResult:
    assert settings.database_url, "resolve_environment fills it in"
    assert settings.encryption_keys, "resolve_environment fills it in"
    assert settings.blind_index_key, "resolve_environment fills it in"
    cipher = FieldCipher.from_config(settings.encryption_keys, settings.blind_index_key)
    engine = create_engine(settings.database_url, pool_size=2)
    sessions = create_session_factory(engine)
    try:
        async with system_unit_of_work(sessions) as session:
            merchant = await install_merchant(session, shop_domain)
        customer_ids: list[str] = []
        for email, welcome_points in DEMO_CUSTOMERS:
            async with tenant_unit_of_work(sessions, merchant.id) as session:
                try:
                    customer_id = await register_customer(session, merchant.id, cipher, email=email)
                except PointsError as error:
                    if error.code is not PointsErrorCode.EMAIL_TAKEN:
                        raise
                    continue
                if welcome_points:
                    await earn_points(
                        session,
                        merchant.id,
                        EarnPoints(
                            customer_id=customer_id,
                            points=welcome_points,
                            reason="Welcome bonus",
                            idempotency_key=f"seed:welcome:{email}",
                        ),
                    )
                if welcome_points >= 1000:
                    # The most engaged customers already share a referral link.
                    await create_referral_link(session, merchant.id, customer_id)
                customer_ids.append(customer_id)
        return SeedResult(merchant_id=merchant.id, customer_ids=customer_ids)
    finally:
        await engine.dispose()
