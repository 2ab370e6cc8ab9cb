"""The auth endpoints the edge app mounts next to the webhook shim. Handlers read the shared
``subgraphs.kit.resources.Resources`` from ``request.app.state.resources``.

Each is limited per client IP (gateway/edge/rate_limits.py): they are reached without a
credential, so the caller's address is all there is to count.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from gateway.edge.auth.app_proxy import proxy_token
from gateway.edge.auth.merchant_referral_link import merchant_referral_link
from gateway.edge.auth.oauth import callback, install
from gateway.edge.rate_limits import limited_per_ip
from subgraphs.kit.resources import Resources


def auth_routes() -> list[BaseRoute]:
    def oauth_limit(resources: Resources) -> str:
        return resources.settings.oauth_rate_limit

    def proxy_limit(resources: Resources) -> str:
        return resources.settings.proxy_token_rate_limit

    return [
        Route(
            "/m/{code}",
            limited_per_ip(merchant_referral_link, scope="oauth", limit=oauth_limit),
            methods=["GET"],
        ),
        Route(
            "/auth/install",
            limited_per_ip(install, scope="oauth", limit=oauth_limit),
            methods=["GET"],
        ),
        Route(
            "/auth/callback",
            limited_per_ip(callback, scope="oauth", limit=oauth_limit),
            methods=["GET"],
        ),
        Route(
            "/proxy/token",
            limited_per_ip(proxy_token, scope="proxy_token", limit=proxy_limit),
            methods=["GET"],
        ),
    ]
