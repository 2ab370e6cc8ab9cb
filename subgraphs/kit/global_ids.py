"""Global IDs: the one encoder and decoder of the API's IDs (framework-free, so services can
decode an ID inside a search query too; ``kit.graphql.node`` gives GraphQL its ``ID``s).

Every entity's ``id`` is a global ID in the Shopify form ``gid://loyalnest/<TypeName>/<uuid>``:
the GraphQL type it names, then the row's time-ordered id. Clients must treat it as opaque (store
it, send it back, never build or parse it); the form is Shopify's so that it reads familiar in
logs. The type being recoverable from the ID alone is what lets ``node(id:)`` route a refetch to
the subgraph that owns the type; the ID carries no tenant, which is checked on every resolve.

Arguments keep GraphQL's ``ID`` scalar (as Relay and Shopify do), so the decoding happens here,
in ``local_id``, called once where an argument or input field enters a resolver (or a service,
for an ID inside a search query): a malformed ID, or an ID of another type than the one
expected, is ``BAD_USER_INPUT`` with a message saying which type was expected — never a masked
error, never a lookup that simply finds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from subgraphs.kit.errors import BadUserInputError

GID_PREFIX: Final = "gid://loyalnest/"
# Type names are GraphQL names; local ids are the database's UUIDs (db.ids.new_id), lower-case
# as it writes them. Anything else is refused here, before it reaches a query.
_GLOBAL_ID: Final = re.compile(
    r"gid://loyalnest/(?P<type>[A-Z][A-Za-z0-9]{0,63})/"
    r"(?P<local>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
# What an error message quotes of a client's value: enough to recognise it, never a whole blob.
_QUOTED_LENGTH: Final = 80


@dataclass(frozen=True, slots=True)
class GlobalId:
    """A decoded global ID: the GraphQL type it names and the row's id in the database."""

    type_name: str
    local_id: str

    def __str__(self) -> str:
        return encode_global_id(self.type_name, self.local_id)


def encode_global_id(type_name: str, local_id: str) -> str:
    """The global ID of the row ``local_id`` of the GraphQL type ``type_name``."""
    return f"{GID_PREFIX}{type_name}/{local_id}"


def decode_global_id(value: object) -> GlobalId:
    """The type and local id a global ID names; BAD_USER_INPUT when ``value`` is not one."""
    matched = _GLOBAL_ID.fullmatch(value) if isinstance(value, str) else None
    if matched is None:
        quoted = repr(value)[:_QUOTED_LENGTH]
        raise BadUserInputError(
            f"{quoted} is not a LoyalNest ID: IDs look like "
            f"gid://loyalnest/<Type>/<id>; send back an `id` the API returned"
        )
    return GlobalId(type_name=matched["type"], local_id=matched["local"])


def local_id(value: object, expected: str | Iterable[str]) -> str:
    """The database id inside the global ID ``value``, which must name ``expected`` (a type
    name, or any of several); BAD_USER_INPUT when it is malformed or names another type."""
    decoded = decode_global_id(value)
    allowed = (expected,) if isinstance(expected, str) else tuple(expected)
    if decoded.type_name not in allowed:
        wanted = " or ".join(allowed)
        raise BadUserInputError(
            f"{str(decoded)[:_QUOTED_LENGTH]} is the ID of a {decoded.type_name}; "
            f"a {wanted} ID is expected here"
        )
    return decoded.local_id


def local_ids(values: Iterable[object], expected: str | Iterable[str]) -> list[str]:
    """``local_id`` of each of ``values``, in order."""
    allowed = (expected,) if isinstance(expected, str) else tuple(expected)
    return [local_id(value, allowed) for value in values]
