"""Global IDs for tests: what the API calls a row that a test made in the database."""

from __future__ import annotations

from subgraphs.kit.graphql.node import decode_global_id, global_id


def gid(type_name: str, row_id: str) -> str:
    """The API's ID of the row ``row_id`` of ``type_name`` (e.g. ``gid("Customer", id)``)."""
    return str(global_id(type_name, row_id))


def gid_or_none(type_name: str, row_id: str | None) -> str | None:
    return None if row_id is None else gid(type_name, row_id)


def row_id(global_id: str) -> str:
    """The database id inside an ID the API returned (to compare it with rows)."""
    return decode_global_id(global_id).local_id
