"""The auth endpoints the edge app mounts next to the webhook shim. Handlers read the shared
``subgraphs.kit.resources.Resources`` from ``request.app.state.resources``."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from gateway.edge.auth.app_proxy import proxy_token
from gateway.edge.auth.oauth import callback, install


def auth_routes() -> list[BaseRoute]:
    return [
        Route("/auth/install", install, methods=["GET"]),
        Route("/auth/callback", callback, methods=["GET"]),
        Route("/proxy/token", proxy_token, methods=["GET"]),
    ]
