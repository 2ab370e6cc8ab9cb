"""Merchant referrals at install: a shop installing LoyalNest for the first time through a
link carrying another shop's code (``ref``) completes one merchant referral, crediting both
shops; the code rides in the OAuth state, so only the install we started can carry it. A
reinstall, the shop's own code, an unknown or malformed code complete nothing, and never
stop the install. Shopify's token endpoint is mocked with respx; Postgres and Redis are real."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest_asyncio
import respx
from sqlalchemy import select, update
from starlette.applications import Starlette

from db.models import Merchant, MerchantReferral
from db.session import system_unit_of_work
from gateway.edge.auth.oauth import state_key
from gateway.edge.auth.routes import auth_routes
from subgraphs.admin.merchant_referrals.service import referral_code_of
from subgraphs.admin.merchants.service import install_merchant
from subgraphs.kit.resources import Resources
from tests.gateway.auth.test_oauth import (
    audit_actions,
    callback_params,
    install_params,
    merchant_row,
    new_shop,
    shopify_signed,
    token_endpoint,
)

UNKNOWN_CODE = referral_code_of("00000000-0000-7000-8000-000000000000")
_browsers = itertools.count(1)


@pytest_asyncio.fixture(loop_scope="session")
async def auth_http(resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    """The auth routes, reached from a browser of its own per test: the OAuth endpoints are
    rate limited per IP, and these tests install many shops."""
    app = Starlette(routes=auth_routes())
    app.state.resources = resources
    address = next(_browsers)
    transport = httpx.ASGITransport(app=app, client=(f"10.19.{address // 250}.{address % 250}", 1))
    async with httpx.AsyncClient(transport=transport, base_url="https://loyalnest.test") as http:
        yield http


async def advocate(resources: Resources) -> Merchant:
    async with system_unit_of_work(resources.sessions) as session:
        return await install_merchant(session, new_shop())


async def start_install(auth_http: httpx.AsyncClient, shop: str, ref: str | None) -> str:
    params = install_params(shop) if ref is None else {**install_params(shop), "ref": ref}
    response = await auth_http.get("/auth/install", params=params)
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    return str(location.params["state"])


async def install_with(
    auth_http: httpx.AsyncClient, shopify: respx.MockRouter, shop: str, ref: str | None
) -> httpx.Response:
    token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop, ref)
    return await auth_http.get("/auth/callback", params=callback_params(shop, state))


async def referrals_of(resources: Resources, merchant_id: str) -> list[MerchantReferral]:
    """Every merchant referral the shop is party to, either side."""
    async with system_unit_of_work(resources.sessions) as session:
        rows = await session.scalars(
            select(MerchantReferral).where(
                (MerchantReferral.merchant_id == merchant_id)
                | (MerchantReferral.advocate_merchant_id == merchant_id)
            )
        )
        return list(rows)


async def test_a_first_install_with_a_code_credits_both_shops_once(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    referrer, shop = await advocate(resources), new_shop()
    token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop, referral_code_of(referrer.id).lower())

    response = await auth_http.get("/auth/callback", params=callback_params(shop, state))
    replay = await auth_http.get("/auth/callback", params=callback_params(shop, state, "c-2"))

    assert response.status_code == 302, response.text
    assert replay.status_code == 401
    referred = await merchant_row(resources, shop)
    assert referred is not None
    [referral] = await referrals_of(resources, referrer.id)
    assert (
        referral.merchant_id,
        referral.advocate_merchant_id,
        referral.status,
        referral.advocate_reward_months,
        referral.referred_reward_months,
        referral.referred_shop_domain,
        referral.advocate_shop_domain,
    ) == (referred.id, referrer.id, "completed", 1, 1, shop, referrer.shop_domain)
    assert referral.completed_at is not None
    referred_side = [
        m
        for a, m in await audit_actions(resources, referred.id)
        if a == "merchant_referral_completed"
    ]
    advocate_side = [
        m
        for a, m in await audit_actions(resources, referrer.id)
        if a == "merchant_referral_completed"
    ]
    assert [(m["side"], m["merchant_referral_id"]) for m in referred_side] == [
        ("referred", referral.id)
    ]
    assert [(m["side"], m["merchant_referral_id"]) for m in advocate_side] == [
        ("advocate", referral.id)
    ]


async def test_a_reinstall_with_a_code_completes_nothing(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    referrer, shop = await advocate(resources), new_shop()
    assert (await install_with(auth_http, shopify, shop, None)).status_code == 302
    installed = await merchant_row(resources, shop)
    assert installed is not None
    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(
            update(Merchant)
            .where(Merchant.id == installed.id)
            .values(uninstalled_at=datetime.now(UTC), api_token_encrypted=None)
        )

    response = await install_with(auth_http, shopify, shop, referral_code_of(referrer.id))

    assert response.status_code == 302
    assert (await merchant_row(resources, shop)).uninstalled_at is None  # type: ignore[union-attr]
    assert await referrals_of(resources, installed.id) == []


async def test_a_shop_is_referred_once(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    first, second, shop = await advocate(resources), await advocate(resources), new_shop()
    await install_with(auth_http, shopify, shop, referral_code_of(first.id))

    # Installing again (new scopes, say) with another shop's code: not a first install.
    response = await install_with(auth_http, shopify, shop, referral_code_of(second.id))

    assert response.status_code == 302
    assert len(await referrals_of(resources, first.id)) == 1
    assert await referrals_of(resources, second.id) == []


async def test_a_shop_cannot_refer_itself(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    # Registered before its first OAuth install (seeded), so it already has a code.
    registered = await advocate(resources)

    response = await install_with(
        auth_http, shopify, registered.shop_domain, referral_code_of(registered.id)
    )

    assert response.status_code == 302
    row = await merchant_row(resources, registered.shop_domain)
    assert row is not None
    assert row.api_token_encrypted is not None
    assert await referrals_of(resources, registered.id) == []


async def test_an_unknown_or_malformed_code_is_ignored_and_the_install_succeeds(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    for ref in (UNKNOWN_CODE, "not-a-code", "x" * 2000, ""):
        shop = new_shop()

        response = await install_with(auth_http, shopify, shop, ref)

        assert response.status_code == 302, (ref, response.text)
        installed = await merchant_row(resources, shop)
        assert installed is not None
        assert installed.api_token_encrypted is not None
        assert await referrals_of(resources, installed.id) == []


async def test_a_code_shopify_signed_with_the_install_is_accepted_too(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    referrer, shop = await advocate(resources), new_shop()
    token_endpoint(shopify, shop)
    params = {k: v for k, v in install_params(shop).items() if k != "hmac"}
    signed = shopify_signed({**params, "ref": referral_code_of(referrer.id)})
    state_response = await auth_http.get("/auth/install", params=signed)
    state = str(httpx.URL(state_response.headers["location"]).params["state"])

    await auth_http.get("/auth/callback", params=callback_params(shop, state))

    assert len(await referrals_of(resources, referrer.id)) == 1


async def test_a_code_on_the_callback_alone_is_not_believed(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    referrer, shop = await advocate(resources), new_shop()
    token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop, None)
    params = {k: v for k, v in callback_params(shop, state).items() if k != "hmac"}

    response = await auth_http.get(
        "/auth/callback", params=shopify_signed({**params, "ref": referral_code_of(referrer.id)})
    )

    assert response.status_code == 302
    assert await referrals_of(resources, referrer.id) == []


async def test_a_state_whose_code_was_edited_is_refused(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    honest, thief, shop = await advocate(resources), await advocate(resources), new_shop()
    exchange = token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop, referral_code_of(honest.id))
    nonce, _, _ = state.partition(".")
    edited = f"{nonce}.{referral_code_of(thief.id)}"

    response = await auth_http.get("/auth/callback", params=callback_params(shop, edited))

    assert response.status_code == 401
    assert not exchange.called
    assert await resources.redis.exists(state_key(state))
    assert await referrals_of(resources, thief.id) == []


async def test_the_shared_link_keeps_the_code_until_shopify_sends_the_signed_install(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    """The link a merchant shares (``merchantReferral.url``) cannot be /auth/install: Shopify
    signs that request, from the app's listing, and forwards nothing of ours. The link leaves
    the code in a cookie and sends the visitor to the listing; the signed install credits it."""
    referrer, shop = await advocate(resources), new_shop()

    landed = await auth_http.get(f"/m/{referral_code_of(referrer.id)}")

    assert landed.status_code == 302
    assert landed.headers["location"] == resources.settings.app_listing_url
    cookie = landed.headers["set-cookie"]
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    # Back from the listing: Shopify's signed install, without our code in its query.
    token_endpoint(shopify, shop)
    installed = await auth_http.get("/auth/install", params=install_params(shop))
    assert installed.status_code == 302
    assert 'loyalnest_merchant_ref=""' in installed.headers["set-cookie"]  # used once
    state = str(httpx.URL(installed.headers["location"]).params["state"])
    done = await auth_http.get("/auth/callback", params=callback_params(shop, state))
    assert done.status_code in (302, 303), done.text

    (referral,) = await referrals_of(resources, referrer.id)
    assert referral.advocate_merchant_id == referrer.id
    assert referral.status == "completed"


async def test_a_mistyped_link_still_lands_on_the_listing_and_credits_nobody(
    auth_http: httpx.AsyncClient, resources: Resources
) -> None:
    landed = await auth_http.get("/m/not-a-code")
    assert landed.status_code == 302
    assert landed.headers["location"] == resources.settings.app_listing_url
    assert "set-cookie" not in landed.headers
