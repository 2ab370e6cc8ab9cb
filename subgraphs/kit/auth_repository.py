"""Every SQL statement authentication needs: API keys and the customer behind a token. (The
Shopify access token an OAuth install stores is the admin subgraph's merchants domain's.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import Customer, Merchant, MerchantApiKey

# last_used_at is for people ("used 3 minutes ago"), not an audit trail: refreshing it at most
# once a minute keeps a busy integration from writing on every call.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ActiveApiKey:
    id: str
    scopes: tuple[str, ...]
    shop_domain: str


async def active_api_key(
    session: AsyncSession, merchant_id: str, key_hash: str
) -> ActiveApiKey | None:
    result = await session.execute(
        select(MerchantApiKey.id, MerchantApiKey.scopes, Merchant.shop_domain)
        .join(Merchant, Merchant.id == MerchantApiKey.merchant_id)
        .where(
            MerchantApiKey.merchant_id == merchant_id,
            MerchantApiKey.key_hash == key_hash,
            MerchantApiKey.revoked_at.is_(None),
            # Keys die with the installation (and live again on reinstall).
            Merchant.uninstalled_at.is_(None),
        )
    )
    row = result.one_or_none()
    if row is None:
        return None
    return ActiveApiKey(id=row.id, scopes=tuple(row.scopes), shop_domain=row.shop_domain)


async def touch_api_key(session: AsyncSession, merchant_id: str, key_id: str) -> None:
    await session.execute(
        update(MerchantApiKey)
        .where(
            MerchantApiKey.merchant_id == merchant_id,
            MerchantApiKey.id == key_id,
            or_(
                MerchantApiKey.last_used_at.is_(None),
                MerchantApiKey.last_used_at < func.now() - _LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=func.now())
    )


async def insert_api_key(
    session: AsyncSession,
    *,
    merchant_id: str,
    key_id: str,
    label: str,
    display_prefix: str,
    key_hash: str,
    scopes: Sequence[str],
    created_by: str | None,
) -> None:
    await session.execute(
        insert(MerchantApiKey).values(
            merchant_id=merchant_id,
            id=key_id,
            label=label,
            display_prefix=display_prefix,
            key_hash=key_hash,
            scopes=list(scopes),
            created_by=created_by,
        )
    )


async def revoke_api_key(session: AsyncSession, merchant_id: str, key_id: str) -> datetime | None:
    """When the key was revoked (now, or earlier); ``None`` if there is no such key."""
    result = await session.execute(
        update(MerchantApiKey)
        .where(MerchantApiKey.merchant_id == merchant_id, MerchantApiKey.id == key_id)
        .values(revoked_at=func.coalesce(MerchantApiKey.revoked_at, func.now()))
        .returning(MerchantApiKey.revoked_at)
    )
    return result.scalar_one_or_none()


async def customer_exists(session: AsyncSession, merchant_id: str, customer_id: str) -> bool:
    result = await session.execute(
        select(Customer.id).where(Customer.merchant_id == merchant_id, Customer.id == customer_id)
    )
    return result.scalar_one_or_none() is not None


# Shopify customer id -> ours, known within one unit of work: an order's points, referral and
# analytics steps each need it, and asking Postgres each time was two statements of an order's
# thirteen (issue 12). A session is one unit of work, so the memo dies with its transaction;
# any rollback (a savepoint's too) forgets it, since what it remembers may be undone.
_KNOWN_SHOPIFY_CUSTOMERS = "loyalnest.customer_ids_by_shopify_id"


def remember_shopify_customer(
    session: AsyncSession, merchant_id: str, shopify_customer_id: str, customer_id: str
) -> None:
    """``customer_id`` is the merchant's customer of that Shopify id in this transaction."""
    known = session.info.setdefault(_KNOWN_SHOPIFY_CUSTOMERS, {})
    known[(merchant_id, shopify_customer_id)] = customer_id


@event.listens_for(Session, "after_soft_rollback")
def _forget_shopify_customers(session: Session, _previous: object) -> None:
    session.info.pop(_KNOWN_SHOPIFY_CUSTOMERS, None)


def forget_shopify_customers(session: AsyncSession) -> None:
    """Forget what this transaction knew of Shopify ids: a customer's was just erased."""
    session.info.pop(_KNOWN_SHOPIFY_CUSTOMERS, None)


async def look_up_shopify_customers(
    session: AsyncSession, merchant_id: str, shopify_customer_ids: Sequence[str]
) -> None:
    """Remember, for the transaction, the customers these Shopify ids already have: a batch of
    deliveries asks once instead of once a delivery. Ids without one are not remembered (a
    delivery of the batch may enrol them)."""
    if not shopify_customer_ids:
        return
    rows = await session.execute(
        select(Customer.shopify_customer_id, Customer.id).where(
            Customer.merchant_id == merchant_id,
            Customer.shopify_customer_id.in_(shopify_customer_ids),
        )
    )
    for shopify_customer_id, customer_id in rows:
        remember_shopify_customer(session, merchant_id, str(shopify_customer_id), customer_id)


def remembered_shopify_customer(
    session: AsyncSession, merchant_id: str, shopify_customer_id: str
) -> str | None:
    """The customer of that Shopify id if this transaction found or enrolled them already;
    None without asking Postgres."""
    known = session.info.get(_KNOWN_SHOPIFY_CUSTOMERS)
    return None if known is None else known.get((merchant_id, shopify_customer_id))


async def customer_id_for_shopify_customer(
    session: AsyncSession, merchant_id: str, shopify_customer_id: str
) -> str | None:
    known = session.info.get(_KNOWN_SHOPIFY_CUSTOMERS)
    if known is not None and (merchant_id, shopify_customer_id) in known:
        return str(known[(merchant_id, shopify_customer_id)])
    result = await session.execute(
        select(Customer.id).where(
            Customer.merchant_id == merchant_id,
            Customer.shopify_customer_id == shopify_customer_id,
        )
    )
    found = result.scalar_one_or_none()
    # Not remembered when missing: a later step of the transaction may enrol them.
    if found is not None:
        remember_shopify_customer(session, merchant_id, shopify_customer_id, found)
    return found
