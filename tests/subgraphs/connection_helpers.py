"""Walking a Relay connection both ways through a subgraph, checking every page's edges,
nodes, cursors and the four ``pageInfo`` fields, and the arguments every connection refuses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from subgraphs.kit.pagination import MAX_PAGE_SIZE
from tests.ids import row_id

# The variables every connection of these tests takes, and what each page selects.
ARGUMENTS_DECLARED = "$first: Int, $after: String, $last: Int, $before: String, $reverse: Boolean"
ARGUMENTS = "first: $first, after: $after, last: $last, before: $before, reverse: $reverse"
SELECTION = """
edges { cursor node { id } }
nodes { id }
pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
"""

# variables -> the whole response body (data and errors).
Fetch = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def connection_of(body: dict[str, Any], path: Sequence[str]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    found: Any = body["data"]
    for key in path:
        found = found[key]
    assert isinstance(found, dict)
    return found


def page_ids(connection: dict[str, Any]) -> list[str]:
    """The page's row ids (from the global IDs), after checking nodes mirror edges and the
    cursors bound the page."""
    edges = connection["edges"]
    cursors = [edge["cursor"] for edge in edges]
    assert all(isinstance(cursor, str) and cursor for cursor in cursors)
    assert len(set(cursors)) == len(cursors)
    assert connection["nodes"] == [edge["node"] for edge in edges]
    info = connection["pageInfo"]
    assert info["startCursor"] == (cursors[0] if cursors else None)
    assert info["endCursor"] == (cursors[-1] if cursors else None)
    return [row_id(edge["node"]["id"]) for edge in edges]


def _given(**variables: Any) -> dict[str, Any]:
    # Omitted, not null: `reverse` is Boolean! with a default.
    return {name: value for name, value in variables.items() if value is not None}


async def walk_forwards(
    fetch: Fetch, path: Sequence[str], size: int, *, reverse: bool | None = None
) -> list[str]:
    seen: list[str] = []
    after: str | None = None
    while True:
        connection = connection_of(
            await fetch(_given(first=size, after=after, reverse=reverse)), path
        )
        ids = page_ids(connection)
        info = connection["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        seen += ids
        if not info["hasNextPage"]:
            assert len(ids) <= size
            return seen
        assert len(ids) == size
        after = info["endCursor"]


async def walk_backwards(
    fetch: Fetch, path: Sequence[str], size: int, *, reverse: bool | None = None
) -> list[str]:
    seen: list[str] = []
    before: str | None = None
    while True:
        connection = connection_of(
            await fetch(_given(last=size, before=before, reverse=reverse)), path
        )
        ids = page_ids(connection)
        info = connection["pageInfo"]
        assert info["hasNextPage"] is (before is not None)
        seen = ids + seen
        if not info["hasPreviousPage"]:
            assert len(ids) <= size
            return seen
        assert len(ids) == size
        before = info["startCursor"]


def error_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["extensions"]["code"], error["message"]) for error in body.get("errors", [])]


async def check_connection(
    fetch: Fetch, path: Sequence[str], expected: list[str], *, size: int = 2
) -> None:
    """``expected``: every id of the list, in its order. Pages forwards, then backwards, both
    in the list's order and reversed; a page on each side of a cursor in the middle; then the
    arguments a connection must refuse."""
    assert len(expected) > size, "walk more than one page"
    assert await walk_forwards(fetch, path, size) == expected
    assert await walk_backwards(fetch, path, size) == expected
    assert await walk_forwards(fetch, path, size, reverse=True) == expected[::-1]
    assert await walk_backwards(fetch, path, size, reverse=True) == expected[::-1]
    assert await walk_forwards(fetch, path, size, reverse=False) == expected

    everything = connection_of(await fetch({"first": len(expected)}), path)
    assert page_ids(everything) == expected
    info = everything["pageInfo"]
    assert (info["hasNextPage"], info["hasPreviousPage"]) == (False, False)
    middle = everything["edges"][2]["cursor"]
    after = connection_of(await fetch({"first": 1, "after": middle}), path)
    assert page_ids(after) == expected[3:4]
    assert after["pageInfo"]["hasNextPage"] is (len(expected) > 4)
    assert after["pageInfo"]["hasPreviousPage"] is True
    before = connection_of(await fetch({"last": 2, "before": middle}), path)
    assert page_ids(before) == expected[0:2]
    assert (before["pageInfo"]["hasNextPage"], before["pageInfo"]["hasPreviousPage"]) == (
        True,
        False,
    )
    nothing = connection_of(await fetch({"first": 0}), path)
    assert page_ids(nothing) == []
    assert nothing["pageInfo"]["hasNextPage"] is True

    await check_refused_arguments(fetch, middle)


async def check_refused_arguments(fetch: Fetch, cursor: str) -> None:
    """Sizes above the maximum or below zero, both directions at once and malformed cursors
    are BAD_USER_INPUT errors, the maximum named in the message."""
    for variables in ({"first": MAX_PAGE_SIZE + 1}, {"last": MAX_PAGE_SIZE + 1}):
        [(code, message)] = error_messages(await fetch(variables))
        assert code == "BAD_USER_INPUT"
        assert str(MAX_PAGE_SIZE) in message
        assert ("first" if "first" in variables else "last") in message
    refused: list[dict[str, Any]] = [
        {"first": -1},
        {"last": -1},
        {"first": 1, "last": 1},
        {"after": cursor, "before": cursor},
        {"first": 1, "before": cursor},
        {"last": 1, "after": cursor},
        {"after": "not a cursor"},
        {"before": "bm90IGEgY3Vyc29y"},
        {"after": "WzEsMiwzLDQsNV0"},  # [1,2,3,4,5]: decodes, fits no position
    ]
    for variables in refused:
        codes = [code for code, _ in error_messages(await fetch(variables))]
        assert codes == ["BAD_USER_INPUT"], variables
