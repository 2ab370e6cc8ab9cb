"""From a bearer token to a Viewer: the token's own checks (kit/auth.py), then what only the
database knows: which merchant a shop is, whether a customer belongs to it, whether an API
key is live. Every refusal is an UnauthenticatedError."""

from __future__ import annotations

from db.session import tenant_unit_of_work
from subgraphs.kit import auth_repository
from subgraphs.kit.api_keys import viewer_for_api_key
from subgraphs.kit.auth import (
    TokenKind,
    Viewer,
    ViewerKind,
    shop_domain_from_token,
    token_kind,
    verify_customer_token,
    verify_staff_token,
)
from subgraphs.kit.errors import UnauthenticatedError
from subgraphs.kit.resources import Resources


async def viewer_for_token(resources: Resources, token: str) -> Viewer:
    settings = resources.settings
    kind = token_kind(token, session_audience=settings.shopify_api_key)
    if kind is TokenKind.API_KEY:
        return await viewer_for_api_key(resources.sessions, token)
    if kind is TokenKind.SESSION:
        shop, user_id = shop_domain_from_token(
            token, app_secret=settings.shopify_api_secret, api_key=settings.shopify_api_key
        )
        return Viewer(
            merchant_id=await _installed_merchant(resources, shop),
            shop_domain=shop,
            user_id=user_id,
        )
    if kind is TokenKind.CUSTOMER:
        customer = verify_customer_token(token, secret=settings.token_secret)
        merchant_id = await _installed_merchant(resources, customer.shop_domain)
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            belongs = await auth_repository.customer_exists(
                session, merchant_id, customer.customer_id
            )
        if not belongs:
            raise UnauthenticatedError(
                f"invalid customer token: no such customer at {customer.shop_domain}"
            )
        return Viewer(
            merchant_id=merchant_id,
            shop_domain=customer.shop_domain,
            user_id=f"customer:{customer.customer_id}",
            kind=ViewerKind.CUSTOMER,
            customer_id=customer.customer_id,
        )
    staff = verify_staff_token(token, secret=settings.staff_token_secret)
    return Viewer(
        merchant_id=await _installed_merchant(resources, staff.shop_domain),
        shop_domain=staff.shop_domain,
        user_id=f"staff:{staff.staff_id}",
        kind=ViewerKind.STAFF,
        roles=staff.roles,
        mfa=staff.mfa,
    )


async def _installed_merchant(resources: Resources, shop: str) -> str:
    # An uninstalled shop's tokens (and its staff's and customers') stop working until the
    # shop installs LoyalNest again; its data stays until shop/redact.
    merchant_id = await resources.merchants.installed_merchant_id(shop)
    if merchant_id is None:
        raise UnauthenticatedError(f"shop {shop} has not installed LoyalNest")
    return merchant_id
