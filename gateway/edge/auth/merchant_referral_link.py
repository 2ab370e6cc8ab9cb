"""The merchant referral link, ``GET /m/{code}``: what a merchant shares with another.

Shopify only sends a merchant to ``/auth/install`` with its own signature, from the app's
listing, and it forwards nothing of ours. So the link keeps the code in a cookie of the
edge app's domain and sends the visitor to the listing; the signed install that follows
(a top-level navigation back to this domain: the cookie is ``SameSite=Lax``) takes the code
from it when its query has none. The code is public: the cookie only carries it across.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from subgraphs.admin.merchant_referrals.service import well_formed_code
from subgraphs.kit.resources import Resources

# The install's query parameter with the referrer's code (outside Shopify's signature).
REFERRAL_PARAMETER = "ref"
REFERRAL_COOKIE = "loyalnest_merchant_ref"
# Long enough to review the listing and install another day.
REFERRAL_COOKIE_DAYS = 30


async def merchant_referral_link(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    settings = resources.settings
    response = RedirectResponse(settings.app_listing_url, status_code=302)
    code = well_formed_code(request.path_params["code"])
    # A malformed code still lands on the listing: a typo never stops an install.
    if code is not None:
        response.set_cookie(
            REFERRAL_COOKIE,
            code,
            max_age=REFERRAL_COOKIE_DAYS * 86400,
            httponly=True,
            secure=settings.app_url.startswith("https://"),
            samesite="lax",
            path="/auth",
        )
    return response


def referral_code_of_visit(request: Request) -> str | None:
    """The code the install should credit: its own ``ref``, else the link's cookie."""
    return request.query_params.get(REFERRAL_PARAMETER) or request.cookies.get(REFERRAL_COOKIE)
