"""Minting LoyalNest's own credentials: customer tokens (the app proxy hands them to the
storefront), staff tokens (local use and tests; in production the IdP issues these), and
merchant API keys from the command line.

Formats are defined, and verified, in subgraphs/kit/auth.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from db.session import tenant_unit_of_work
from subgraphs.kit.api_keys import CreatedApiKey, create_api_key
from subgraphs.kit.auth import (
    CUSTOMER_AUDIENCE,
    CUSTOMER_TOKEN_TTL_SECONDS,
    LOYALNEST_ISSUER,
    MFA_METHOD,
    STAFF_AUDIENCE,
    hs256_jwt,
)
from subgraphs.kit.permissions import Capability
from subgraphs.kit.resources import open_resources
from subgraphs.kit.settings import Settings

STAFF_TOKEN_TTL_SECONDS = 60 * 60


def mint_customer_token(
    *,
    shop_domain: str,
    customer_id: str,
    secret: str,
    ttl_seconds: int = CUSTOMER_TOKEN_TTL_SECONDS,
    now: int | None = None,
) -> str:
    """A token that lets one customer of one shop read and act for themselves."""
    issued_at = int(time.time()) if now is None else now
    return _sign(
        {
            "iss": LOYALNEST_ISSUER,
            "aud": CUSTOMER_AUDIENCE,
            "sub": customer_id,
            "dest": f"https://{shop_domain}",
            "exp": issued_at + ttl_seconds,
            "nbf": issued_at,
            "iat": issued_at,
            "jti": str(uuid.uuid4()),
        },
        secret,
    )


def mint_staff_token(
    *,
    shop_domain: str,
    staff_id: str,
    roles: Iterable[str],
    secret: str,
    mfa: bool = True,
    ttl_seconds: int = STAFF_TOKEN_TTL_SECONDS,
    now: int | None = None,
) -> str:
    """A LoyalNest staff member acting on one shop, with roles (admin:full, admin:analytics,
    admin:support); ``amr`` says how they signed in, as an IdP would (RFC 8176)."""
    issued_at = int(time.time()) if now is None else now
    return _sign(
        {
            "aud": STAFF_AUDIENCE,
            "sub": staff_id,
            "dest": f"https://{shop_domain}",
            "roles": sorted(set(roles)),
            "amr": ["pwd", MFA_METHOD] if mfa else ["pwd"],
            "exp": issued_at + ttl_seconds,
            "nbf": issued_at,
            "iat": issued_at,
            "jti": str(uuid.uuid4()),
        },
        secret,
    )


def _sign(claims: dict[str, object], secret: str) -> str:
    token: bytes = hs256_jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, secret)
    return token.decode()


async def create_api_key_for_shop(
    settings: Settings, shop_domain: str, *, label: str, scopes: Iterable[Capability]
) -> CreatedApiKey:
    """The CLI's way to hand a tool a key (there is no GraphQL mutation for it yet)."""
    async with open_resources(settings, live=False) as resources:
        merchant_id = await resources.merchants.merchant_id(shop_domain)
        if merchant_id is None:
            raise LookupError(f"shop {shop_domain} has not installed LoyalNest")
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            return await create_api_key(
                session, merchant_id, label=label, scopes=scopes, created_by="cli"
            )
