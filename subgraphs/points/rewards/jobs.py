"""Background jobs of rewards (run by `loyalnest worker`, on arq): the sweeper that settles
the redemptions a crash left ``pending`` between the debit and Shopify's answer (see
``rewards.redemption`` for the three steps it finishes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from db.models import RedemptionStatus
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.jobs import Cron, job, job_resources
from subgraphs.kit.resources import Resources
from subgraphs.points.orders.repository import shop_connection
from subgraphs.points.rewards.discounts import (
    DiscountNotIssuedError,
    IssuedDiscount,
    discount_issuer,
)
from subgraphs.points.rewards.redemption import (
    redemption_code,
    settle_issued,
    settle_refunded,
)
from subgraphs.points.rewards.repository import (
    RedemptionRepository,
    StaleRedemption,
    stale_pending_redemptions,
)
from subgraphs.points.shopify import MerchantConnection, ShopifyConnector

log = structlog.get_logger(__name__)

DEFAULT_STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SweepReport:
    issued: int = 0
    refunded: int = 0
    # Shopify unreachable: tried again on the next run.
    still_pending: int = 0


async def resolve_stale_redemptions(
    resources: Resources,
    connector: ShopifyConnector,
    *,
    now: datetime | None = None,
    older_than: timedelta = DEFAULT_STALE_AFTER,
    limit: int = 200,
) -> SweepReport:
    """Settle redemptions left ``pending`` (a crash between the debit and the answer from
    Shopify): issued if Shopify has the code, refunded if it has not. Sandbox codes exist as
    soon as they are stored, so they are issued. All merchants, oldest first."""
    now = now or datetime.now(UTC)
    async with system_unit_of_work(resources.sessions) as session:
        stale = await stale_pending_redemptions(
            session, created_before=now - older_than, limit=limit
        )
    issued = refunded = still_pending = 0
    for item in stale:
        try:
            status = await _resolve(resources, connector, item, now=now)
        except Exception:
            # One broken redemption must not keep the others pending.
            log.exception(
                "stale_redemption_not_resolved",
                merchant_id=item.merchant_id,
                redemption_id=item.redemption_id,
            )
            status = RedemptionStatus.PENDING
        issued += status == RedemptionStatus.ISSUED
        refunded += status == RedemptionStatus.REFUNDED
        still_pending += status == RedemptionStatus.PENDING
    return SweepReport(issued=issued, refunded=refunded, still_pending=still_pending)


async def _resolve(
    resources: Resources, connector: ShopifyConnector, item: StaleRedemption, *, now: datetime
) -> RedemptionStatus:
    merchant_id = item.merchant_id
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        redemption = await RedemptionRepository(session, merchant_id).redemption_by_id(
            item.redemption_id
        )
        connection = await shop_connection(session, merchant_id)
    if redemption is None or redemption.status != RedemptionStatus.PENDING:
        return RedemptionStatus(redemption.status) if redemption else RedemptionStatus.PENDING
    if redemption.sandbox:
        # Issued locally, whether or not the shop has connected Shopify since.
        connection = MerchantConnection(connection.shop_domain, None)
    failure = "still pending after a crash; Shopify does not have the code"
    found: IssuedDiscount | None = None
    if connection.api_token_encrypted is None and not redemption.sandbox:
        failure = "the shop disconnected from Shopify before the discount was created"
    else:
        code = redemption_code(redemption, resources.cipher)
        try:
            async with discount_issuer(
                connector, merchant_id, connection, resources.cipher
            ) as issuer:
                found = await issuer.lookup(code)
        except DiscountNotIssuedError as exc:
            if exc.retryable:
                log.warning(
                    "stale_redemption_shopify_unavailable",
                    merchant_id=merchant_id,
                    redemption_id=redemption.id,
                    error=str(exc),
                )
                return RedemptionStatus.PENDING
            # Shopify answered but cannot be asked (revoked token...): the shopper never saw
            # the code of a pending redemption, so returning the points cannot double-spend.
            failure = f"discount lookup refused: {exc}"
    if found is None:
        settled = await settle_refunded(resources, merchant_id, redemption.id, failure, now=now)
    else:
        settled = await settle_issued(resources, merchant_id, redemption.id, found)
    return RedemptionStatus(settled.status)


# Pending redemptions are settled within minutes of a crash.
@job(timeout=600, cron=Cron(minute=frozenset(range(0, 60, 5))))
async def resolve_stale_redemptions_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Settle redemptions a crash left between the debit and Shopify's answer."""
    resources = job_resources(ctx)
    report = await resolve_stale_redemptions(
        resources, ShopifyConnector.for_process(resources, ctx.get("http"))
    )
    counts = asdict(report)
    log.info("stale_redemptions_resolved", **counts)
    return counts
