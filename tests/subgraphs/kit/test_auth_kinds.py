"""Token kinds without the network: routing by shape and unverified audience (which decides
only which verifier runs), the claims each verifier trusts, and the permission helpers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.edge.auth.shopify_signatures import app_proxy_message, oauth_message
from gateway.edge.auth.tokens import mint_customer_token, mint_staff_token
from subgraphs.kit.auth import (
    STAFF_AUDIENCE,
    TokenKind,
    Viewer,
    ViewerKind,
    hs256_jwt,
    token_kind,
    verify_customer_token,
    verify_staff_token,
)
from subgraphs.kit.errors import ForbiddenError, UnauthenticatedError
from subgraphs.kit.permissions import (
    Capability,
    capabilities_of,
    require,
    require_catalog_read,
    require_customer_access,
)
from subgraphs.kit.settings import Settings
from tests.conftest import token_for

SHOP = "cool-socks.myshopify.com"
SECRET = "unit-test-secret"


def staff_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": STAFF_AUDIENCE,
        "sub": "ops-1",
        "dest": f"https://{SHOP}",
        "roles": ["admin:support"],
        "amr": ["pwd", "mfa"],
        "exp": now + 60,
        "nbf": now,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    token: bytes = hs256_jwt.encode({"alg": "HS256"}, claims, secret)
    return token.decode()


def viewer(kind: ViewerKind, **fields: Any) -> Viewer:
    return Viewer(merchant_id="m1", shop_domain=SHOP, user_id=None, kind=kind, **fields)


def test_tokens_are_routed_by_shape_and_audience() -> None:
    customer = mint_customer_token(shop_domain=SHOP, customer_id="c1", secret=SECRET)
    staff = mint_staff_token(shop_domain=SHOP, staff_id="s1", roles=[], secret=SECRET)

    assert token_kind(token_for(SHOP), session_audience="test-api-key") is TokenKind.SESSION
    assert token_kind(customer, session_audience="test-api-key") is TokenKind.CUSTOMER
    assert token_kind(staff, session_audience="test-api-key") is TokenKind.STAFF
    assert token_kind("lnk_m1_secret", session_audience="test-api-key") is TokenKind.API_KEY


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.!!!.c", "a.WzFd.c", "a.b.c.d"])
def test_garbage_cannot_even_be_routed(token: str) -> None:
    with pytest.raises(UnauthenticatedError):
        token_kind(token, session_audience="test-api-key")


def test_a_customer_token_names_its_shop_and_customer() -> None:
    token = mint_customer_token(shop_domain=SHOP, customer_id="c1", secret=SECRET)

    claims = verify_customer_token(token, secret=SECRET)

    assert (claims.shop_domain, claims.customer_id) == (SHOP, "c1")


def test_a_customer_token_lasts_fifteen_minutes() -> None:
    issued = int(time.time()) - 16 * 60
    token = mint_customer_token(shop_domain=SHOP, customer_id="c1", secret=SECRET, now=issued)

    with pytest.raises(UnauthenticatedError, match="expired"):
        verify_customer_token(token, secret=SECRET)


def test_a_staff_token_carries_roles_and_mfa() -> None:
    claims = verify_staff_token(signed(staff_claims()), secret=SECRET)

    assert claims.roles == frozenset({"admin:support"})
    assert claims.mfa is True
    assert claims.shop_domain == SHOP


@pytest.mark.parametrize(
    ("overrides", "roles", "mfa"),
    [
        ({"amr": ["pwd"]}, {"admin:support"}, False),
        ({"amr": None}, {"admin:support"}, False),
        ({"amr": "mfa"}, {"admin:support"}, False),
        ({"roles": "admin:full"}, set(), True),
        ({"roles": ["admin:full", 7]}, {"admin:full"}, True),
    ],
)
def test_malformed_role_and_amr_claims_grant_nothing(
    overrides: dict[str, Any], roles: set[str], mfa: bool
) -> None:
    claims = verify_staff_token(signed(staff_claims(**overrides)), secret=SECRET)

    assert (claims.roles, claims.mfa) == (frozenset(roles), mfa)


@pytest.mark.parametrize(
    "overrides",
    [{"sub": None}, {"sub": ""}, {"dest": None}, {"dest": "https://evil.com"}, {"exp": None}],
)
def test_a_staff_token_without_its_essentials_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(UnauthenticatedError):
        verify_staff_token(signed(staff_claims(**overrides)), secret=SECRET)


def test_customers_reach_only_themselves_and_the_catalog() -> None:
    me = viewer(ViewerKind.CUSTOMER, customer_id="c1")

    assert capabilities_of(me) == frozenset()
    assert require_customer_access(me, "c1") is me
    assert require_catalog_read(me) is me
    for other in ("c2", None, ""):
        with pytest.raises(ForbiddenError):
            require_customer_access(me, other)
    with pytest.raises(ForbiddenError):
        require(me, Capability.READ_PROGRAM)


def test_everyone_else_needs_the_capability_for_a_customer() -> None:
    tool = viewer(ViewerKind.API_CLIENT, roles=frozenset({"write_points"}))

    assert require_customer_access(tool, "c9", Capability.WRITE_POINTS) is tool
    with pytest.raises(ForbiddenError):
        require_customer_access(tool, "c9")
    with pytest.raises(ForbiddenError):
        require_catalog_read(tool)


def test_the_oauth_message_cannot_be_smuggled_into() -> None:
    honest = oauth_message([("shop", "a.myshopify.com"), ("state", "x")])
    smuggled = oauth_message([("shop", "a.myshopify.com&state=x")])

    assert honest == "shop=a.myshopify.com&state=x"
    assert smuggled != honest


def test_the_app_proxy_message_joins_repeated_values_and_skips_the_signature() -> None:
    message = app_proxy_message([("b", "2"), ("a", "1"), ("b", "3"), ("signature", "s")])

    assert message == "a=1b=2,3"


def test_production_refuses_the_development_token_secrets() -> None:
    settings = Settings(
        LOYALNEST_ENV="production",
        DATABASE_URL="postgresql://db/loyalnest",
        REDIS_URL="redis://cache",
        LOYALNEST_ENCRYPTION_KEYS="k1:x",
        LOYALNEST_BLIND_INDEX_KEY="y",
        SHOPIFY_API_SECRET="real-app-secret",
    )

    with pytest.raises(RuntimeError) as refused:
        settings.check_production()

    for name in ("LOYALNEST_TOKEN_SECRET", "LOYALNEST_STAFF_TOKEN_SECRET", "LOYALNEST_APP_URL"):
        assert name in str(refused.value)


def test_a_token_accepted_once_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    # A token's signature is checked once and remembered (kit.auth._signed_claims); its time
    # claims must still be checked on every use.
    token = signed(staff_claims(exp=int(time.time()) + 60))
    assert verify_staff_token(token, secret=SECRET).staff_id == "ops-1"

    later = time.time() + 61 + 120  # past exp and the clock-skew leeway
    monkeypatch.setattr("subgraphs.kit.auth.time.time", lambda: later)
    with pytest.raises(UnauthenticatedError, match="expired"):
        verify_staff_token(token, secret=SECRET)


def test_a_remembered_signature_does_not_vouch_for_another_secret() -> None:
    token = signed(staff_claims())
    assert verify_staff_token(token, secret=SECRET).staff_id == "ops-1"
    with pytest.raises(UnauthenticatedError):
        verify_staff_token(token, secret="another-secret")
