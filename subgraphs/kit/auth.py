"""The viewer: who is asking, derived from a Shopify session token.

Shopify session tokens are JWTs signed HS256 with the app secret; ``dest`` is the shop's URL,
``aud`` the app's API key. See https://shopify.dev/docs/apps/auth/session-tokens.
"""

from __future__ import annotations

import enum
import time
import warnings
from dataclasses import dataclass
from urllib.parse import urlparse

from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # authlib 1.x points to its sister project joserfc; authlib.jose stays supported until
    # authlib 2.0, and authlib is the library this project standardises on. (authlib adds an
    # "always" filter when first imported, so ours is added after that import.)
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebToken
    from authlib.jose.errors import JoseError

from subgraphs.kit.errors import UnauthenticatedError

# Shopify signs session tokens with HS256 only; refusing other algorithms blocks alg confusion.
session_token_jwt = JsonWebToken(["HS256"])
_CLOCK_SKEW_SECONDS = 10


class ViewerKind(enum.Enum):
    """Who is asking; decides what the viewer may read and do (see kit.permissions)."""

    MERCHANT = "merchant"  # a shop's staff, with a Shopify session token
    CUSTOMER = "customer"  # a storefront shopper, with a customer token from the app proxy
    STAFF = "staff"  # LoyalNest staff, with a staff token (roles, MFA) acting on one shop
    API_CLIENT = "api_client"  # a third-party tool, with one of the merchant's API keys


@dataclass(frozen=True, slots=True)
class Viewer:
    merchant_id: str
    shop_domain: str
    user_id: str | None
    kind: ViewerKind = ViewerKind.MERCHANT
    # CUSTOMER viewers: the only customer they may read or act for.
    customer_id: str | None = None
    # STAFF viewers: "admin:full" / "admin:analytics" / "admin:support"; API clients: scopes.
    roles: frozenset[str] = frozenset()
    # STAFF viewers: whether the token says multi-factor authentication was passed.
    mfa: bool = False


def shop_domain_from_token(token: str, *, app_secret: str, api_key: str) -> tuple[str, str | None]:
    """Verify the token and return (shop domain, Shopify user id). Raises UnauthenticatedError."""
    try:
        claims = session_token_jwt.decode(
            token,
            app_secret,
            claims_options={
                "aud": {"essential": True, "value": api_key},
                "exp": {"essential": True},
                "nbf": {"essential": True},
                "dest": {"essential": True},
            },
        )
        claims.validate(now=int(time.time()), leeway=_CLOCK_SKEW_SECONDS)
    except (JoseError, ValueError) as exc:
        raise UnauthenticatedError(f"invalid session token: {exc}") from exc
    shop = urlparse(str(claims["dest"])).hostname
    issuer = urlparse(str(claims.get("iss", ""))).hostname
    if not shop or not shop.endswith(".myshopify.com"):
        raise UnauthenticatedError("invalid session token: dest is not a Shopify shop")
    if issuer != shop:
        raise UnauthenticatedError("invalid session token: iss and dest name different shops")
    sub = claims.get("sub")
    return shop, str(sub) if sub is not None else None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("Authorization must be 'Bearer <session token>'")
    return token.strip()
