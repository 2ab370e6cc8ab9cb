"""Global IDs as GraphQL sees them: every entity's ``id`` is ``global_id(type, row id)``, and
every argument or input field holding one is decoded with ``local_id`` (``kit.global_ids``);
and ``CustomerKey``, the federated ``Customer`` as the subgraphs that do not own it see it."""

from __future__ import annotations

from typing import Final, Self

import strawberry

from subgraphs.kit.global_ids import (
    GID_PREFIX,
    GlobalId,
    decode_global_id,
    encode_global_id,
    local_id,
    local_ids,
)

__all__ = [
    "GID_PREFIX",
    "NODE_ID_DESCRIPTION",
    "CustomerKey",
    "GlobalId",
    "decode_global_id",
    "global_id",
    "local_id",
    "local_ids",
]

# Every ``id`` field says the same, in every subgraph (composition merges the descriptions).
NODE_ID_DESCRIPTION: Final = (
    "Global ID (gid://loyalnest/<Type>/<id>), opaque: store it and send it back as it is "
    "(e.g. to `node(id:)`); never build or parse it."
)


def global_id(type_name: str, row_id: str) -> strawberry.ID:
    """The ``ID`` of the row ``row_id`` of the GraphQL type ``type_name``."""
    return strawberry.ID(encode_global_id(type_name, row_id))


@strawberry.type
class CustomerKey:
    """The federated ``Customer`` in a subgraph that adds fields to it but does not own it (the
    points subgraph does): its key, and the customer's database id that the subgraph's own
    fields load by. Each such subgraph declares its entity on top of it, under the owner's
    description::

        @strawberry.federation.type(keys=["id"], description="A shopper enrolled in ...")
        class Customer(CustomerKey):
            @strawberry.field(description="...")
            async def rfm(self, info: AnalyticsInfo) -> CustomerRfmScores | None: ...
    """

    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    customer_id: strawberry.Private[str]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Self:
        """The router's reference: nothing to load, the key is all this subgraph needs (each
        field checks the viewer's access itself)."""
        return cls(id=id, customer_id=local_id(id, "Customer"))

    @classmethod
    def of(cls, customer_id: str) -> Self:
        """The customer with database id ``customer_id``, as a field of this subgraph returns it."""
        return cls(id=global_id("Customer", customer_id), customer_id=customer_id)
