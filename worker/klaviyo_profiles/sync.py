"""Klaviyo profile sync: each customer's loyalty standing as custom properties of their Klaviyo
profile (the spec's "Klaviyo VIP tier sync"), for the merchant's segments and flows:
``loyalnest_vip_tier``, ``loyalnest_vip_tier_rank``, ``loyalnest_points_balance``,
``loyalnest_lifetime_points`` and ``loyalnest_referral_url``.

Pushed on change: the merchant's flows job (``worker/notifications/jobs.py``, nudged after
every ledger commit) reads the audit entries that change a customer's standing (any ledger
write, a tier assigned, a referral link made) after its cursor, the same way the message flows
do, so changes are coalesced per customer and run, and a lost nudge only delays them. The
nightly reconcile walks every customer, for what no entry tells (a bulk import, a tier
renamed). Either way only what changed is sent: a digest of what each profile was last sent
is kept (``klaviyo_profile_states``), so a repeated run sends nothing twice.

Redacted customers are never pushed. Klaviyo's 429 (and 5xx) are retried with its
Retry-After (``kit.integrations.http_retries``); a Klaviyo still unwell stops the run, which
leaves the cursor where it stopped (or the reconcile's rest for its next pass).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.session import tenant_unit_of_work
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.integrations.notifications import (
    KlaviyoClient,
    NotificationNotDeliverable,
    NotificationRejected,
    NotificationUnavailable,
    Recipient,
)
from subgraphs.kit.repository import audit_entries_after
from subgraphs.kit.resources import Resources
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.customers.service import customer_email, customer_phone
from subgraphs.points.notifications.flows import LOOKBACK, OVERLAP
from subgraphs.points.notifications.repository import (
    KlaviyoProfileStateRepository,
    NotificationCursorRepository,
    NotificationSettingsRepository,
)
from subgraphs.points.notifications.sending import send_setup
from subgraphs.points.orders.repository import shop_connection
from subgraphs.points.program.service import NotificationProvider
from subgraphs.points.tiers.repository import TierRepository
from subgraphs.points.tiers.rules import localized_name
from subgraphs.referrals.repository import ReferralsRepository
from subgraphs.referrals.service import referral_url

log = structlog.get_logger(__name__)

STREAM = "klaviyo_profiles"
PAGE = 200
# What changes a customer's standing: every ledger write (the balance), a tier assigned, a
# referral link made.
CHANGE_ACTIONS = (
    AuditAction.POINTS_EARNED,
    AuditAction.POINTS_REDEEMED,
    AuditAction.POINTS_ADJUSTED,
    AuditAction.POINTS_REVERSED,
    AuditAction.POINTS_EXPIRED,
    AuditAction.POINTS_REFUNDED,
    AuditAction.TIER_ASSIGNED,
    AuditAction.REFERRAL_CREATED,
)


@dataclass
class ProfileSyncSummary:
    pushed: int = 0
    unchanged: int = 0
    # No address Klaviyo could match, or refused: tried again by the next reconcile.
    not_pushed: int = 0
    # Klaviyo stayed unavailable: the run stopped.
    stopped: bool = False


async def sync_key(session: AsyncSession, merchant_id: str, resources: Resources) -> str | None:
    """The merchant's Klaviyo key when they sync profiles (Klaviyo chosen, sync not off)."""
    setup = await send_setup(session, merchant_id, resources.cipher)
    if setup is None or setup.provider is not NotificationProvider.KLAVIYO:
        return None
    settings = await NotificationSettingsRepository(session, merchant_id).settings()
    if settings is not None and not settings.profile_sync:
        return None
    return setup.api_key


def digest(recipient: Recipient, properties: dict[str, Any]) -> str:
    """What a push sends, in a few bytes: the same digest means the same request."""
    sent = {"email": recipient.email, "phone": recipient.phone, "properties": properties}
    return hashlib.sha256(orjson.dumps(sent, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class _Profile:
    customer_id: str
    recipient: Recipient
    properties: dict[str, Any]
    digest: str


async def _profiles(
    session: AsyncSession, resources: Resources, merchant_id: str, customer_ids: Sequence[str]
) -> list[_Profile]:
    """The profiles of these customers as they stand (but for redacted customers)."""
    customers = await CustomerRepository(session, merchant_id).customers_by_ids(customer_ids)
    tiers = {tier.id: tier for tier in await TierRepository(session, merchant_id).tiers()}
    links = {
        link.advocate_customer_id: link.code
        for link in await ReferralsRepository(session, merchant_id).links_by_advocates(customer_ids)
    }
    shop = await shop_connection(session, merchant_id)
    template = resources.settings.storefront_url_template
    profiles = []
    for customer in customers:
        if customer.redacted_at is not None:
            continue
        tier = tiers.get(customer.vip_tier_id) if customer.vip_tier_id else None
        code = links.get(customer.id)
        properties: dict[str, Any] = {
            "loyalnest_vip_tier": None if tier is None else localized_name(tier.name, "en"),
            "loyalnest_vip_tier_rank": None if tier is None else tier.rank,
            "loyalnest_points_balance": customer.points_balance,
            "loyalnest_lifetime_points": customer.total_points_earned,
            "loyalnest_referral_url": None
            if code is None
            else referral_url(template, shop_domain=shop.shop_domain, code=code),
        }
        recipient = Recipient(
            email=customer_email(customer, resources.cipher) or None,
            phone=customer_phone(customer, resources.cipher),
            locale=customer.locale,
            external_id=customer.id,
        )
        profiles.append(_Profile(customer.id, recipient, properties, digest(recipient, properties)))
    return profiles


async def push_profiles(
    resources: Resources,
    client: KlaviyoClient,
    merchant_id: str,
    customer_ids: Sequence[str],
    summary: ProfileSyncSummary,
    *,
    now: datetime,
) -> bool:
    """Push the profiles of these customers that changed since their last push; False when
    Klaviyo stayed unavailable (what was pushed before is recorded)."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        profiles = await _profiles(session, resources, merchant_id, customer_ids)
        last = await KlaviyoProfileStateRepository(session, merchant_id).digests(
            [profile.customer_id for profile in profiles]
        )
    pushed: dict[str, str] = {}
    available = True
    for profile in profiles:
        if last.get(profile.customer_id) == profile.digest:
            summary.unchanged += 1
            continue
        try:
            await client.upsert_profile(profile.recipient, profile.properties)
        except NotificationUnavailable as error:
            log.warning("klaviyo_profile_sync_stopped", merchant_id=merchant_id, error=str(error))
            available = False
            break
        except (NotificationNotDeliverable, NotificationRejected) as error:
            log.info("klaviyo_profile_not_pushed", merchant_id=merchant_id, error=str(error))
            summary.not_pushed += 1
            continue
        pushed[profile.customer_id] = profile.digest
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        await KlaviyoProfileStateRepository(session, merchant_id).save(pushed, now)
    summary.pushed += len(pushed)
    summary.stopped = not available
    return available


async def push_changed_profiles(
    resources: Resources,
    http: httpx.AsyncClient,
    merchant_id: str,
    *,
    now: datetime,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> ProfileSyncSummary:
    """Push the profiles of customers whose standing changed since the stream's cursor."""
    summary = ProfileSyncSummary()
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        key = await sync_key(session, merchant_id, resources)
        if key is None:
            return summary
        stored = (await NotificationCursorRepository(session, merchant_id).positions()).get(STREAM)
        # The first run starts now: what happened before is the nightly reconcile's.
        start = now - OVERLAP if stored is None else max(stored - OVERLAP, now - LOOKBACK)
        entries = await audit_entries_after(session, merchant_id, CHANGE_ACTIONS, (start, ""), PAGE)
    if not entries and stored is not None:
        return summary  # nothing read after the cursor: it stays, and nothing is written
    client = KlaviyoClient(http, key, retry=retry)
    position = now
    while True:
        customer_ids = sorted(
            {
                str(entry.metadata_["customer_id"])
                for entry in entries
                if "customer_id" in entry.metadata_
            }
        )
        if customer_ids and not await push_profiles(
            resources, client, merchant_id, customer_ids, summary, now=now
        ):
            position = entries[0].created_at
            break
        if len(entries) < PAGE:
            break
        after = (entries[-1].created_at, entries[-1].id)
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            entries = await audit_entries_after(session, merchant_id, CHANGE_ACTIONS, after, PAGE)
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        await NotificationCursorRepository(session, merchant_id).move(STREAM, position)
    return summary


async def reconcile_profiles(
    resources: Resources,
    http: httpx.AsyncClient,
    merchant_id: str,
    *,
    now: datetime,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
    page: int = PAGE,
) -> ProfileSyncSummary:
    """Walk every customer of the merchant and push the profiles that changed."""
    summary = ProfileSyncSummary()
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        key = await sync_key(session, merchant_id, resources)
    if key is None:
        return summary
    client = KlaviyoClient(http, key, retry=retry)
    after: str | None = None
    while True:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            customer_ids = await CustomerRepository(session, merchant_id).ids_after(after, page)
        if customer_ids and not await push_profiles(
            resources, client, merchant_id, customer_ids, summary, now=now
        ):
            return summary
        if len(customer_ids) < page:
            return summary
        after = customer_ids[-1]
