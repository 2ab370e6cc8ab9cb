"""The viewer (who is asking) and the tokens that say so.

Four kinds of callers, four kinds of credentials:

- merchants: Shopify session tokens, JWTs signed HS256 with the app secret; ``dest`` is the
  shop's URL, ``aud`` the app's API key. See https://shopify.dev/docs/apps/auth/session-tokens.
- customers: customer tokens we mint at the app proxy (gateway/edge/auth/app_proxy.py), HS256 with
  ``LOYALNEST_TOKEN_SECRET``, ``aud`` ``loyalnest:storefront``, ``sub`` our customer id.
- LoyalNest staff: staff tokens, HS256 with ``LOYALNEST_STAFF_TOKEN_SECRET``, ``aud``
  ``loyalnest:staff``, ``roles`` and ``amr`` (RFC 8176; ``mfa`` when a second factor was used).
- third-party tools: merchant API keys, opaque strings starting with ``lnk_`` (kit/api_keys.py).

A token is routed to its verifier by its shape and, for JWTs, by its *unverified* ``aud``;
that claim picks the verifier and nothing else. Each verifier then checks the signature with
its own secret, the audience again, and the time claims, so a token of one kind can never pass
as another even if two secrets were configured alike.

This module is pure (no I/O): kit/authenticate.py adds the database checks.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import json
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # authlib 1.x points to its sister project joserfc; authlib.jose stays supported until
    # authlib 2.0, and authlib is the library this project standardises on. (authlib adds an
    # "always" filter when first imported, so ours is added after that import.)
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebToken, JWTClaims
    from authlib.jose.errors import JoseError

from subgraphs.kit.errors import UnauthenticatedError
from subgraphs.kit.validation import string_refusal

# Every JWT we accept is HS256; refusing other algorithms (``none`` above all) blocks
# algorithm confusion. Shopify signs session tokens with HS256 only.
hs256_jwt = JsonWebToken(["HS256"])
session_token_jwt = hs256_jwt  # the name minting code and older tests use
_CLOCK_SKEW_SECONDS = 10

CUSTOMER_AUDIENCE = "loyalnest:storefront"
STAFF_AUDIENCE = "loyalnest:staff"
LOYALNEST_ISSUER = "loyalnest"
API_KEY_PREFIX = "lnk_"
# Short-lived: a customer token is re-minted from the app proxy whenever the widget loads.
CUSTOMER_TOKEN_TTL_SECONDS = 15 * 60
MFA_METHOD = "mfa"


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
    # Who acts, as audit logs record it: the Shopify user id for merchants, "staff:<sub>",
    # "customer:<id>" or "api_key:<id>" for the other kinds.
    user_id: str | None
    kind: ViewerKind = ViewerKind.MERCHANT
    # CUSTOMER viewers: the only customer they may read or act for.
    customer_id: str | None = None
    # STAFF viewers: "admin:full" / "admin:analytics" / "admin:support"; API clients: scopes.
    roles: frozenset[str] = frozenset()
    # STAFF viewers: whether the token says multi-factor authentication was passed.
    mfa: bool = False


class TokenKind(enum.Enum):
    SESSION = "session token"
    CUSTOMER = "customer token"
    STAFF = "staff token"
    API_KEY = "API key"


@dataclass(frozen=True, slots=True)
class CustomerClaims:
    shop_domain: str
    customer_id: str


@dataclass(frozen=True, slots=True)
class StaffClaims:
    shop_domain: str
    staff_id: str
    roles: frozenset[str]
    mfa: bool


def token_kind(token: str, *, session_audience: str) -> TokenKind:
    """Which verifier a token goes to. Routing only: nothing read here is trusted."""
    if token.startswith(API_KEY_PREFIX):
        return TokenKind.API_KEY
    audience = _unverified_claims(token).get("aud")
    if audience == session_audience:
        return TokenKind.SESSION
    if audience == CUSTOMER_AUDIENCE:
        return TokenKind.CUSTOMER
    if audience == STAFF_AUDIENCE:
        return TokenKind.STAFF
    raise UnauthenticatedError("invalid token: its audience is not one LoyalNest accepts")


def shop_domain_from_token(token: str, *, app_secret: str, api_key: str) -> tuple[str, str | None]:
    """Verify a Shopify session token and return (shop domain, Shopify user id)."""
    claims = _verified_claims(
        token,
        app_secret,
        kind=TokenKind.SESSION,
        audience=api_key,
        essential=("exp", "nbf", "dest"),
    )
    shop = _shop_from_dest(claims, TokenKind.SESSION)
    issuer = urlparse(str(claims.get("iss", ""))).hostname
    if issuer != shop:
        raise UnauthenticatedError("invalid session token: iss and dest name different shops")
    sub = claims.get("sub")
    return shop, str(sub) if sub is not None else None


def verify_customer_token(token: str, *, secret: str) -> CustomerClaims:
    _, shop, customer_id = _person_in_shop(
        token, secret, kind=TokenKind.CUSTOMER, audience=CUSTOMER_AUDIENCE, issuer=LOYALNEST_ISSUER
    )
    return CustomerClaims(shop_domain=shop, customer_id=customer_id)


def verify_staff_token(token: str, *, secret: str) -> StaffClaims:
    claims, shop, staff_id = _person_in_shop(
        token, secret, kind=TokenKind.STAFF, audience=STAFF_AUDIENCE
    )
    return StaffClaims(
        shop_domain=shop,
        staff_id=staff_id,
        roles=_string_set(claims, "roles"),
        mfa=MFA_METHOD in _string_set(claims, "amr"),
    )


def _person_in_shop(
    token: str, secret: str, *, kind: TokenKind, audience: str, issuer: str | None = None
) -> tuple[Mapping[str, Any], str, str]:
    """A verified token of one person (``sub``) in one shop (``dest``): its claims, the shop
    and the person."""
    claims = _verified_claims(
        token,
        secret,
        kind=kind,
        audience=audience,
        essential=("exp", "nbf", "sub", "dest"),
        issuer=issuer,
    )
    return claims, _shop_from_dest(claims, kind), _non_empty_string(claims, "sub", kind)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("Authorization must be 'Bearer <token>'")
    # Over a WebSocket the token comes in JSON, which can carry a NUL or a lone surrogate:
    # no token of ours holds one, and hashing or a lookup would fail on it, unexpectedly.
    if string_refusal(token) is not None:
        raise UnauthenticatedError("invalid token: it holds a character that is not text")
    return token.strip()


def _verified_claims(
    token: str,
    secret: str,
    *,
    kind: TokenKind,
    audience: str,
    essential: tuple[str, ...],
    issuer: str | None = None,
) -> Mapping[str, Any]:
    try:
        claims = _signed_claims(token, secret, audience, essential, issuer)
        # The time claims are checked on every use: the signature once per token.
        claims.validate(now=int(time.time()), leeway=_CLOCK_SKEW_SECONDS)
    except (JoseError, ValueError) as exc:
        raise UnauthenticatedError(f"invalid {kind.value}: {exc}") from exc
    result: Mapping[str, Any] = claims
    return result


# A dashboard or widget sends one token with many requests: checking its signature (base64,
# HMAC, JSON) was ~5 % of a small query's CPU. Only tokens whose signature held are kept (a
# refusal raises, and lru_cache keeps no exceptions), bounded, keyed by the secret too.
@functools.lru_cache(maxsize=4096)
def _signed_claims(
    token: str, secret: str, audience: str, essential: tuple[str, ...], issuer: str | None
) -> JWTClaims:
    options: dict[str, dict[str, Any]] = {name: {"essential": True} for name in essential}
    options["aud"] = {"essential": True, "value": audience}
    if issuer is not None:
        options["iss"] = {"essential": True, "value": issuer}
    claims: JWTClaims = hs256_jwt.decode(token, secret, claims_options=options)
    return claims


def _unverified_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise UnauthenticatedError("invalid token: neither a JWT nor a LoyalNest API key")
    try:
        payload = parts[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise UnauthenticatedError("invalid token: its payload is not JSON") from exc
    if not isinstance(decoded, dict):
        raise UnauthenticatedError("invalid token: its payload is not a JSON object")
    return decoded


def _shop_from_dest(claims: Mapping[str, Any], kind: TokenKind) -> str:
    shop = urlparse(str(claims["dest"])).hostname
    if not shop or not shop.endswith(".myshopify.com"):
        raise UnauthenticatedError(f"invalid {kind.value}: dest is not a Shopify shop")
    return shop


def _non_empty_string(claims: Mapping[str, Any], name: str, kind: TokenKind) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise UnauthenticatedError(f"invalid {kind.value}: {name} must be a non-empty string")
    return value


def _string_set(claims: Mapping[str, Any], name: str) -> frozenset[str]:
    """A list-of-strings claim; anything else grants nothing (never an error that locks out)."""
    value = claims.get(name)
    if not isinstance(value, list):
        return frozenset()
    return frozenset(item for item in value if isinstance(item, str))
