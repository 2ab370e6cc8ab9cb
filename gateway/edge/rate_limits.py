"""The edge app's rate limits as HTTP: a 429 with ``Retry-After`` and ``RateLimit-*`` headers,
and a wrapper that limits an endpoint per client IP (OAuth, the app-proxy token exchange).

The counting itself is kit's (``subgraphs.kit.rate_limits``): moving window on Redis, failing
open. The client IP is Starlette's ``request.client``: behind a load balancer, uvicorn's
``--forwarded-allow-ips`` makes it the caller's rather than the balancer's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from subgraphs.kit.rate_limits import RateLimitDecision, parse_limit
from subgraphs.kit.resources import Resources

log = structlog.get_logger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def too_many_requests(decision: RateLimitDecision, **fields: str) -> JSONResponse:
    log.warning("rate_limited", limit=decision.limit, **fields)
    return JSONResponse(
        {
            "error": f"rate limit of {decision.limit} requests per {decision.window_seconds} s "
            f"exceeded; retry after {decision.reset_seconds} s",
            "code": "RATE_LIMITED",
            "retryAfterSeconds": decision.reset_seconds,
        },
        status_code=429,
        headers={**decision.headers(), "cache-control": "no-store"},
    )


async def over_limit(
    resources: Resources, limit: str, scope: str, identity: str
) -> JSONResponse | None:
    """One request counted against ``scope``/``identity``: the 429 to answer, or None."""
    decision = await resources.rate_limiter.hit(parse_limit(limit), scope, identity)
    if decision.allowed:
        return None
    return too_many_requests(decision, scope=scope, identity=identity)


def limited_per_ip(
    endpoint: Endpoint, *, scope: str, limit: Callable[[Resources], str]
) -> Endpoint:
    """``endpoint`` behind a per-IP limit (``limit`` picks the setting), counted before any
    of its work."""

    async def limited(request: Request) -> Response:
        resources: Resources = request.app.state.resources
        refused = await over_limit(resources, limit(resources), scope, client_ip(request))
        return refused if refused is not None else await endpoint(request)

    return limited
