"""Relay connections (first/after), capped, with opaque keyset cursors (``kit.pagination``)."""

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
    "Connection",
    "Edge",
    "FirstArgument",
    "Page",
    "PageInfo",
    "PageRequest",
    "decode_cursor",
    "encode_cursor",
    "page_request",
    "to_connection",
]

# The two arguments of every connection field.
FirstArgument = Annotated[
    int | None, strawberry.argument(description=f"Page size, at most {MAX_PAGE_SIZE}.")
]
AfterArgument = Annotated[str | None, strawberry.argument(description="Cursor to continue after.")]

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")


@strawberry.federation.type(shareable=True, description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.federation.type(shareable=True, description="One item of a page and its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.federation.type(shareable=True, description="A page of a list.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="How to fetch the next page.")


def to_connection(
    page: Page[RowT],
    *,
    position: Callable[[RowT], Sequence[Any]],
    node: Callable[[RowT], NodeT],
) -> Connection[NodeT]:
    edges = [Edge(cursor=encode_cursor(position(row)), node=node(row)) for row in page.rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None
        ),
    )
