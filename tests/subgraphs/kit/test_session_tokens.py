"""Session tokens decide who the viewer is: only a fresh HS256 token for our app, signed with
our secret and naming one Shopify shop, is accepted."""

from __future__ import annotations

import base64
import hmac
import json
import time
from typing import Any

import pytest

from gateway.edge.auth.session_tokens import mint_session_token
from subgraphs.kit.auth import session_token_jwt, shop_domain_from_token
from subgraphs.kit.errors import UnauthenticatedError
from tests.conftest import TEST_API_KEY, TEST_APP_SECRET, SubgraphClient, Tenant, token_for
from tests.ids import gid

SHOP = "cool-socks.myshopify.com"
MERCHANT = "{ merchant { id shopDomain } }"


def verify(token: str) -> tuple[str, str | None]:
    return shop_domain_from_token(token, app_secret=TEST_APP_SECRET, api_key=TEST_API_KEY)


def claims(**overrides: Any) -> dict[str, Any]:
    """What Shopify puts in a session token, valid now, with some claims replaced or removed
    (pass ``None`` to remove one)."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": f"https://{SHOP}/admin",
        "dest": f"https://{SHOP}",
        "aud": TEST_API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": "a1b2c3",
        "sid": "s1",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def signed(payload: dict[str, Any], secret: str = TEST_APP_SECRET) -> str:
    token: bytes = session_token_jwt.encode({"alg": "HS256", "typ": "JWT"}, payload, secret)
    return token.decode()


def segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{segment(header)}.{segment(payload)}.{encoded}"


def hmac_signed(alg: str, payload: dict[str, Any], digest: str) -> str:
    """A token with our secret but another algorithm in its header, signed accordingly."""
    header = {"alg": alg, "typ": "JWT"}
    signing_input = f"{segment(header)}.{segment(payload)}".encode()
    signature = hmac.new(TEST_APP_SECRET.encode(), signing_input, digest).digest()
    return hand_made(header, payload, signature)


def assert_refused(token: str, reason: str | None = None) -> None:
    with pytest.raises(UnauthenticatedError, match=reason) as refused:
        verify(token)
    assert refused.value.extensions == {"code": "UNAUTHENTICATED"}


def test_a_minted_token_names_its_shop_and_user() -> None:
    token = mint_session_token(
        shop_domain=SHOP, app_secret=TEST_APP_SECRET, api_key=TEST_API_KEY, user_id="77"
    )

    assert verify(token) == (SHOP, "77")


def test_a_token_without_a_user_is_accepted_with_no_user() -> None:
    assert verify(signed(claims(sub=None))) == (SHOP, None)


def test_an_expired_token_is_refused() -> None:
    an_hour_ago = int(time.time()) - 3600

    assert_refused(token_for(SHOP, now=an_hour_ago, ttl_seconds=60), "expired")


def test_a_token_expired_within_the_clock_skew_leeway_is_accepted() -> None:
    assert verify(signed(claims(exp=int(time.time()) - 3))) == (SHOP, "42")


def test_a_token_not_yet_valid_beyond_the_leeway_is_refused() -> None:
    now = int(time.time())

    assert_refused(signed(claims(nbf=now + 60)), "not valid yet")


def test_a_token_from_a_clock_a_few_seconds_ahead_is_accepted() -> None:
    assert verify(token_for(SHOP, now=int(time.time()) + 3)) == (SHOP, "1")


@pytest.mark.parametrize("claim", ["exp", "nbf", "aud", "dest", "iss"])
def test_a_token_missing_an_essential_claim_is_refused(claim: str) -> None:
    assert_refused(signed(claims(**{claim: None})))


def test_a_token_for_another_app_is_refused() -> None:
    assert_refused(signed(claims(aud="someone-elses-api-key")), "aud")


def test_a_token_signed_with_another_secret_is_refused() -> None:
    assert_refused(signed(claims(), secret="not-our-secret"))


def test_a_token_with_a_tampered_payload_is_refused() -> None:
    header, _payload, signature = signed(claims()).split(".")
    forged_payload = segment(claims(dest="https://victim.myshopify.com", iss=None))

    assert_refused(f"{header}.{forged_payload}.{signature}")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_an_unsigned_alg_none_token_is_refused(alg: str) -> None:
    assert_refused(hand_made({"alg": alg, "typ": "JWT"}, claims(), b""))


@pytest.mark.parametrize(
    ("alg", "digest"),
    [("HS512", "sha512"), ("HS384", "sha384"), ("RS256", "sha256"), ("ES256", "sha256")],
)
def test_algorithms_other_than_hs256_are_refused(alg: str, digest: str) -> None:
    # Signed with our real secret: only the algorithm in the header is wrong.
    assert_refused(hmac_signed(alg, claims(), digest))


def test_the_hand_made_signer_agrees_with_the_library_for_hs256() -> None:
    # Guards the test above: its tokens fail for their algorithm, not for a signing mistake.
    assert verify(hmac_signed("HS256", claims(), "sha256")) == (SHOP, "42")


@pytest.mark.parametrize(
    "dest",
    [
        "https://evil.com",
        "https://cool-socks.myshopify.com.evil.com",
        "https://evil.com/cool-socks.myshopify.com",
        "https://myshopify.com.evil.com",
        "cool-socks.myshopify.com",
    ],
)
def test_dest_must_be_a_myshopify_shop(dest: str) -> None:
    assert_refused(signed(claims(dest=dest, iss=None)))


def test_iss_naming_another_shop_than_dest_is_refused() -> None:
    assert_refused(signed(claims(iss="https://other-shop.myshopify.com/admin")), "different shops")


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "....", "Bearer x.y.z"])
def test_garbage_is_refused(token: str) -> None:
    assert_refused(token)


def assert_unauthenticated(result: dict[str, Any]) -> None:
    assert result["data"] in (None, {"merchant": None})
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


async def test_over_http_a_valid_token_resolves_the_viewer(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    result = await admin_client.execute(MERCHANT, tenant=tenant)

    assert result == {
        "data": {
            "merchant": {
                "id": gid("Merchant", tenant.merchant_id),
                "shopDomain": tenant.shop_domain,
            }
        }
    }


async def test_over_http_no_authorization_header_is_unauthenticated(
    admin_client: SubgraphClient,
) -> None:
    result = await admin_client.execute(MERCHANT)

    assert_unauthenticated(result)


@pytest.mark.parametrize(
    "authorization", ["Token abc", "Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "abc"]
)
async def test_over_http_a_malformed_authorization_header_is_unauthenticated(
    admin_client: SubgraphClient, tenant: Tenant, authorization: str
) -> None:
    result = await admin_client.execute(MERCHANT, headers={"authorization": authorization})

    assert_unauthenticated(result)


async def test_over_http_the_bearer_scheme_is_case_insensitive(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    result = await admin_client.execute(
        MERCHANT, headers={"authorization": f"bearer {tenant.token}"}
    )

    assert result["data"]["merchant"]["id"] == gid("Merchant", tenant.merchant_id)


async def test_over_http_a_bad_token_is_unauthenticated_and_reveals_nothing(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    forged = signed(claims(dest=f"https://{tenant.shop_domain}", iss=None), secret="guess")

    result = await admin_client.execute(MERCHANT, headers={"authorization": f"Bearer {forged}"})

    assert_unauthenticated(result)
    assert tenant.merchant_id not in json.dumps(result)


async def test_over_http_a_valid_token_for_a_shop_that_never_installed_is_unauthenticated(
    admin_client: SubgraphClient,
) -> None:
    token = token_for("never-installed-shop.myshopify.com")

    result = await admin_client.execute(MERCHANT, headers={"authorization": f"Bearer {token}"})

    assert_unauthenticated(result)


async def test_over_http_unexpected_errors_are_masked_with_a_request_id(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    query = '{ _entities(representations: [{__typename: "Merchant"}]) { ... on Merchant { id } } }'

    result = await admin_client.execute(
        query, tenant=tenant, headers={"x-request-id": "req-from-the-router"}
    )

    assert result["data"] == {"_entities": [None]}
    assert [e["message"] for e in result["errors"]] == ["Unexpected error."]
    # A code to switch on, and the id the one log record of the error carries.
    assert result["errors"][0]["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "requestId": "req-from-the-router",
    }


async def test_over_http_a_nul_byte_never_reaches_postgres(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    query = (
        '{ _entities(representations: [{__typename: "Merchant", id: "m\\u0000"}]) '
        "{ ... on Merchant { id } } }"
    )

    result = await admin_client.execute(query, tenant=tenant)

    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert result["errors"][0]["extensions"]["field"] == ["_entities", "representations", 0, "id"]
