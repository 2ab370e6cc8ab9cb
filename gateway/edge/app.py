"""The edge app: what Shopify and the storefront call directly, outside GraphQL.

- POST /webhooks/shopify — the webhook shim (gateway/webhooks)
- /auth/* and /proxy/* — OAuth install and the app-proxy token exchange (gateway/auth)
- /proxy/r/{code} and /r/{shop}/{code} — referral link clicks (gateway/referrals)
- /gdpr/exports/... — a data request's export, behind a short-lived signed link (gateway/gdpr)
- GET /health

It opens its resources without live pub/sub, so it starts and keeps accepting webhooks
while Redis is down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gateway.edge.auth.routes import auth_routes
from gateway.edge.gdpr.downloads import gdpr_download_routes
from gateway.edge.referrals.clicks import referral_click_routes
from gateway.edge.uploads.routes import upload_routes
from gateway.edge.webhooks.shim import webhook_routes
from subgraphs.kit.collector import settle_after_startup
from subgraphs.kit.observability import configure_logging
from subgraphs.kit.resources import Resources, open_resources
from subgraphs.kit.settings import Settings, get_settings


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def _routes() -> list[BaseRoute]:
    return [
        Route("/health", health),
        *webhook_routes(),
        *auth_routes(),
        *referral_click_routes(),
        *gdpr_download_routes(),
        *upload_routes(),
    ]


def create_edge_app(
    settings: Settings | None = None, *, resources: Resources | None = None
) -> Starlette:
    """``resources`` given: use them (tests share the session's); otherwise open our own."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if resources is not None:
            app.state.resources = resources
            yield
            return
        resolved = settings or get_settings()
        configure_logging(resolved.log_level)
        async with open_resources(resolved, live=False) as opened:
            app.state.resources = opened
            settle_after_startup()
            yield

    app = Starlette(routes=_routes(), lifespan=lifespan)
    if resources is not None:
        app.state.resources = resources
    return app


app = create_edge_app()
