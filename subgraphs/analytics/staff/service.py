"""The staff view: LoyalNest staff with ``admin:analytics`` comparing shops — each shop's
headline loyalty numbers, its RFM segment counts and its churn model side by side (the
cross-store comparison multi-store merchants ask support for).

Reading across tenants never leaves row-level security: the shop domains are resolved to
merchants in one short system transaction (resolving a shop domain is the one thing that is
no tenant's), then every shop is read in its own tenant unit of work, as that shop's own
dashboard would be, and the read is recorded in that shop's audit trail in the same
transaction (no shop's figures leave without its entry). A staff token names one shop, the
one it acts on; the comparison is the one read that reaches the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ChurnModel
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.analytics.churn import service as churn
from subgraphs.analytics.service import LoyaltyMetricsSnapshot, fresh_loyalty_metrics
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.auth import Viewer, ViewerKind
from subgraphs.kit.errors import BadUserInputError, ForbiddenError
from subgraphs.kit.permissions import Capability, require
from subgraphs.kit.repository import merchant_for_shop
from subgraphs.kit.write_context import WriteContext

MAX_SHOPS = 10
# Longer than any shop domain Shopify issues: not looked up, reported unknown.
MAX_DOMAIN_CHARS = 255


@dataclass(frozen=True, slots=True)
class ShopAnalytics:
    shop_domain: str
    installed: bool
    metrics: LoyaltyMetricsSnapshot
    churn_model: ChurnModel | None


@dataclass(frozen=True, slots=True)
class ShopComparison:
    """The shops found, in the order asked, and the domains no shop has."""

    shops: list[ShopAnalytics]
    unknown_shop_domains: list[str]


def require_analytics_staff(viewer: Viewer) -> Viewer:
    """LoyalNest staff whose roles grant analytics (``admin:analytics``, or ``admin:full``,
    which grants everything), after MFA. A merchant's token or an API key reads its own shop
    only, whatever it is granted: FORBIDDEN here."""
    if viewer.kind is not ViewerKind.STAFF:
        raise ForbiddenError(
            f"comparing shops is for LoyalNest staff with admin:analytics, not a "
            f"{viewer.kind.value} token"
        )
    return require(viewer, Capability.READ_ANALYTICS)


def requested_domains(shop_domains: Sequence[str]) -> list[str]:
    """The domains as Shopify spells them (trimmed, lower case), each once, in the order
    given: 1 to 10 of them."""
    domains = list(dict.fromkeys(domain.strip().lower() for domain in shop_domains))
    if not 1 <= len(domains) <= MAX_SHOPS:
        raise BadUserInputError(f"shopDomains: give 1 to {MAX_SHOPS} shop domains")
    return domains


async def shop_analytics(
    write: WriteContext, shop_domain: str, *, installed: bool, shops_compared: int
) -> ShopAnalytics:
    """One shop's side of the comparison, read and audited in its own tenant transaction."""
    # The entry says who read and how many shops were compared, never which: the shop's
    # merchant reads this trail, and the other shops' names are not theirs to see.
    await write.audit.record(
        AuditAction.STAFF_SHOPS_COMPARED, {"field": "shopComparison", "shops": shops_compared}
    )
    metrics = await fresh_loyalty_metrics(write.session, write.merchant_id)
    model = await churn.churn_model(write.session, write.merchant_id)
    return ShopAnalytics(shop_domain, installed, metrics, model)


async def compare_shops(
    sessions: async_sessionmaker[AsyncSession], staff: Viewer, shop_domains: Sequence[str]
) -> ShopComparison:
    require_analytics_staff(staff)
    domains = requested_domains(shop_domains)
    async with system_unit_of_work(sessions) as session:
        found = {
            domain: await merchant_for_shop(session, domain)
            for domain in domains
            if len(domain) <= MAX_DOMAIN_CHARS
        }
    known = {domain: merchant for domain, merchant in found.items() if merchant is not None}
    shops = []
    for domain, (merchant_id, installed) in known.items():
        async with tenant_unit_of_work(sessions, merchant_id) as session:
            write = WriteContext(session, merchant_id, actor_id=staff.user_id)
            shops.append(
                await shop_analytics(write, domain, installed=installed, shops_compared=len(known))
            )
    return ShopComparison(shops, [domain for domain in domains if domain not in known])
