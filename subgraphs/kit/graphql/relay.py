"""Relay connections: ``first`` / ``after`` / ``last`` / ``before`` (at most ``MAX_PAGE_SIZE``)
and ``reverse`` on every list, ``edges { cursor node }``, ``nodes`` and a full ``PageInfo``,
with opaque keyset cursors (``kit.pagination``). Every connection field is built here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from subgraphs.kit.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Page,
    PageRequest,
    decode_cursor,
    encode_cursor,
    page_request,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "AfterArgument",
    "BeforeArgument",
    "Connection",
    "Edge",
    "FirstArgument",
    "LastArgument",
    "Page",
    "PageInfo",
    "PageRequest",
    "ReverseArgument",
    "decode_cursor",
    "encode_cursor",
    "page_request",
    "to_connection",
]

# The arguments of every connection field (Relay's four, and the order flip).
FirstArgument = Annotated[
    int | None,
    strawberry.argument(
        description=f"Page forwards: the first items after `after`, at most {MAX_PAGE_SIZE} "
        f"(default {DEFAULT_PAGE_SIZE} when neither `first` nor `last` is given)."
    ),
]
AfterArgument = Annotated[
    str | None, strawberry.argument(description="Cursor to continue after (with `first`).")
]
LastArgument = Annotated[
    int | None,
    strawberry.argument(
        description=f"Page backwards: the last items before `before`, at most {MAX_PAGE_SIZE}."
    ),
]
BeforeArgument = Annotated[
    str | None, strawberry.argument(description="Cursor to continue before (with `last`).")
]
ReverseArgument = Annotated[bool, strawberry.argument(description="Flip the list's order.")]

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")


@strawberry.federation.type(shareable=True, description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="More items precede this page.")
    start_cursor: str | None = strawberry.field(
        description="The first item's cursor: pass as `before` for the previous page."
    )
    end_cursor: str | None = strawberry.field(
        description="The last item's cursor: pass as `after` for the next page."
    )


@strawberry.federation.type(shareable=True, description="One item of a page and its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.federation.type(shareable=True, description="A page of a list.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page.")
    nodes: list[NodeT] = strawberry.field(
        description="The items of this page, without cursors (the nodes of `edges`)."
    )
    page_info: PageInfo = strawberry.field(
        description="Where this page sits, and the cursors of the pages on either side."
    )


def to_connection(
    page: Page[RowT],
    *,
    position: Callable[[RowT], Sequence[Any]],
    node: Callable[[RowT], NodeT],
) -> Connection[NodeT]:
    """The connection of one page: each row's cursor is its keyset ``position``."""
    edges = [Edge(cursor=encode_cursor(position(row)), node=node(row)) for row in page.rows]
    return Connection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
