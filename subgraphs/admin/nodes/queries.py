"""``node(id:)`` and ``nodes(ids:)``: refetch any object of the API by its global ID.

The type is read from the ID alone. A type owned by this subgraph is loaded here, with the
permission its own queries need. Any other type is answered as its stub once the viewer's
shop is known to have the row (``kit.node_repository`` says why that check is needed with
this router), and the router fetches the fields asked for from the owning subgraph, whose
``resolve_reference`` checks the tenant and the permission again. Loaders batch both, so a
list of IDs is one statement per type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Final

import strawberry

from subgraphs.admin.audit.types import (
    AUDIT_ENTRY_TYPE,
    WEBHOOK_INBOX_EVENT_TYPE,
    AuditLogEvent,
)
from subgraphs.admin.deliveries.types import WebhookDelivery
from subgraphs.admin.gdpr.types import GdprRequest
from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.merchants.types import Merchant
from subgraphs.admin.nodes.types import FOREIGN_NODE_TYPES, Node
from subgraphs.kit.errors import BadUserInputError
from subgraphs.kit.graphql.node import GlobalId, decode_global_id

MAX_NODES: Final = 100

# Type name -> this subgraph's own implementation: its ``resolve_reference`` (the one the router
# calls for entities) loads it for the viewer, or answers None (not theirs, or no such row).
OwnNodeLoader = Callable[..., Awaitable[Node | None]]
OWN_NODE_TYPES: Final[dict[str, OwnNodeLoader]] = {
    "Merchant": Merchant.resolve_reference,
    "GdprRequest": GdprRequest.resolve_reference,
    "WebhookDelivery": WebhookDelivery.resolve_reference,
    AUDIT_ENTRY_TYPE: AuditLogEvent.resolve_reference,
    WEBHOOK_INBOX_EVENT_TYPE: AuditLogEvent.resolve_reference,
}


def _decoded(value: object) -> GlobalId:
    """The global ID ``value`` names, which must be of a type that implements ``Node``."""
    decoded = decode_global_id(value)
    if decoded.type_name not in FOREIGN_NODE_TYPES and decoded.type_name not in OWN_NODE_TYPES:
        # Well formed but naming no type of ours: as malformed as any other foreign string.
        raise BadUserInputError(f"{str(decoded)[:80]} names no LoyalNest type")
    return decoded


async def _resolve(info: AdminInfo, decoded: GlobalId) -> Node | None:
    stub = FOREIGN_NODE_TYPES.get(decoded.type_name)
    if stub is not None:
        key = (decoded.type_name, decoded.local_id)
        if not await info.context.loaders.node_exists.load(key):
            return None
        return stub(id=strawberry.ID(str(decoded)))
    load = OWN_NODE_TYPES[decoded.type_name]
    return await load(info=info, id=strawberry.ID(str(decoded)))


@strawberry.type
class Query:
    @strawberry.field(
        description="The object with this global ID; null when the viewer's shop has none "
        "(another shop's ID, or a deleted object)."
    )
    async def node(
        self,
        info: AdminInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global ID.")],
    ) -> Node | None:
        return await _resolve(info, _decoded(id))

    @strawberry.field(
        description=f"The objects with these global IDs (at most {MAX_NODES}), in the same "
        "order; null in the place of each the viewer's shop has none."
    )
    async def nodes(
        self,
        info: AdminInfo,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description=f"Global IDs, at most {MAX_NODES}."),
        ],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadUserInputError(f"nodes takes at most {MAX_NODES} ids; {len(ids)} were given")
        # Decoded first: one bad ID refuses the whole list, before anything is loaded.
        decoded = [_decoded(value) for value in ids]
        # Concurrent, so each type's loader batches its IDs into one statement.
        return list(await asyncio.gather(*(_resolve(info, each) for each in decoded)))
