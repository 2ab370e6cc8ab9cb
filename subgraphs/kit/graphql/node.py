"""Global IDs as GraphQL sees them: every entity's ``id`` is ``global_id(type, row id)``, and
every argument or input field holding one is decoded with ``local_id`` (``kit.global_ids``)."""

from __future__ import annotations

from typing import Final

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
