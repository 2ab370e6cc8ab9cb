"""Per-request context: the viewer and the request's own DataLoaders.

Over HTTP a context lives for one request. Over WebSocket it lives as long as the socket, so
subscription resolvers must open their own unit of work per event and never use ``loaders``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from db.session import tenant_unit_of_work
from subgraphs.kit.auth import Viewer, bearer_token
from subgraphs.kit.authenticate import viewer_for_token
from subgraphs.kit.errors import UnauthenticatedError
from subgraphs.kit.resources import Resources

LoadersT = TypeVar("LoadersT")
LoadersFactory = Callable[[Resources, Viewer], LoadersT]

# A request id the router (or a load balancer) sent is kept, so one id follows a request
# through every log; anything else (missing, too long, odd characters) gets a fresh one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(header: str | None) -> str:
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class Context(Generic[LoadersT]):
    def __init__(
        self,
        *,
        resources: Resources,
        request: Request | WebSocket,
        response: Response | WebSocket | None,
        loaders_factory: LoadersFactory[LoadersT],
    ) -> None:
        self.resources = resources
        self.request = request
        self.response = response
        self.connection_params: dict[str, Any] | None = None
        # Logged with every unexpected error and returned to the client beside it.
        self.request_id = request_id_from(request.headers.get("x-request-id"))
        self._loaders_factory = loaders_factory
        self._loaders: LoadersT | None = None
        self._viewer: Viewer | None = None
        self._auth_error: UnauthenticatedError | None = None

    async def authenticate(self, authorization: str | None) -> None:
        """Resolve the viewer now, whichever kind of token it holds (kit/authenticate.py); a
        failure is raised later, by the first field that needs it, so schema introspection by
        the composer needs no token."""
        try:
            token = bearer_token(authorization)
            if token is None:
                raise UnauthenticatedError(
                    "a bearer token is required (session token, customer token, staff token "
                    "or API key)"
                )
            self._viewer = await viewer_for_token(self.resources, token)
            self._auth_error = None
        except UnauthenticatedError as exc:
            self._viewer = None
            self._auth_error = exc

    @property
    def viewer(self) -> Viewer:
        if self._viewer is None:
            raise self._auth_error or UnauthenticatedError()
        return self._viewer

    @property
    def loaders(self) -> LoadersT:
        if self._loaders is None:
            self._loaders = self._loaders_factory(self.resources, self.viewer)
        return self._loaders

    def release(self) -> None:
        """Let the request's loaders and what they cached go now, not at the next full
        collection. graphql-core's executor is a reference cycle (its resolve-info helpers
        hold its bound methods) and holds this context; each loader's batch function holds its
        loaders too. So every page's rows, and a future for each of them, outlived the
        request until the collector found them: about a quarter of a 100-row page's CPU went
        to collections (bench/read_cpu.py)."""
        loaders, self._loaders = self._loaders, None
        if loaders is None:
            return
        cached = vars(loaders)
        for name, value in list(cached.items()):
            if isinstance(value, DataLoader):
                value.clear_all()
                del cached[name]

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A transaction confined to the viewer's merchant by row-level security."""
        async with tenant_unit_of_work(self.resources.sessions, self.viewer.merchant_id) as session:
            yield session
