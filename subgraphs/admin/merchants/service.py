"""Merchants: a shop's installation (OAuth install, uninstall) and its plan. No web framework
here; never commits."""

from __future__ import annotations

import enum
import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import MERCHANTS_API_TOKEN
from db.ids import new_id
from db.models import Merchant
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.domain import DomainError
from subgraphs.kit.repository import insert_audit_log

_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class MerchantPlan(enum.StrEnum):
    """merchants.plan (each value is its name in lower case)."""

    FREE = enum.auto()
    STARTER = enum.auto()
    GROWTH = enum.auto()
    PLUS = enum.auto()


class MerchantErrorCode(enum.StrEnum):
    INVALID_SHOP_DOMAIN = enum.auto()


class MerchantError(DomainError):
    code: MerchantErrorCode


class InvalidShopDomainError(MerchantError):
    def __init__(self, message: str) -> None:
        super().__init__(MerchantErrorCode.INVALID_SHOP_DOMAIN, "shop", message)


def normalize_shop_domain(shop_domain: str) -> str:
    domain = shop_domain.strip().lower()
    if not _SHOP_DOMAIN.match(domain):
        raise InvalidShopDomainError(f"{shop_domain!r} is not a *.myshopify.com domain")
    return domain


async def install_merchant(
    session: AsyncSession, shop_domain: str, plan: MerchantPlan = MerchantPlan.FREE
) -> Merchant:
    """Register a shop (system unit of work: no tenant yet). Installing again is a no-op."""
    domain = normalize_shop_domain(shop_domain)
    repository = MerchantsRepository(session)
    merchant = await repository.insert_merchant(
        merchant_id=new_id(), shop_domain=domain, plan=plan.value
    )
    if merchant is None:
        existing = await repository.merchant_by_shop(domain)
        assert existing is not None, "a conflicting shop implies a committed row"
        return existing
    await insert_audit_log(
        session,
        merchant_id=merchant.id,
        action=AuditAction.MERCHANT_ADDED,
        metadata={"plan": plan.value},
    )
    return merchant


async def record_app_install(
    session: AsyncSession, cipher: FieldCipher, shop_domain: str, *, access_token: str, scopes: str
) -> tuple[Merchant, bool]:
    """The OAuth callback's writes (system unit of work): the shop is registered if new, its
    Admin API token stored encrypted, and the install audited. Returns the merchant and
    whether the shop had been uninstalled before (a reinstall)."""
    merchant = await install_merchant(session, shop_domain)
    reinstalled = await MerchantsRepository(session).store_access_token(
        merchant.id, cipher.encrypt(access_token, context=MERCHANTS_API_TOKEN)
    )
    await insert_audit_log(
        session,
        merchant_id=merchant.id,
        action=AuditAction.APP_INSTALLED,
        metadata={"scopes": scopes, "reinstalled": reinstalled},
    )
    return merchant, reinstalled


async def record_uninstall(session: AsyncSession, merchant_id: str, *, now: datetime) -> None:
    """app/uninstalled: the shop removed LoyalNest. Points and customers are kept until
    shop/redact; only the access token goes."""
    if await MerchantsRepository(session).mark_uninstalled(merchant_id, now):
        await insert_audit_log(
            session, merchant_id=merchant_id, action=AuditAction.MERCHANT_UNINSTALLED, metadata={}
        )
