"""Relay connections (first/after), capped, with opaque keyset cursors."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import orjson
import strawberry
from graphql import GraphQLError

from subgraphs.kit.errors import BAD_USER_INPUT

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

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


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the repository needs: how many rows, and the keyset position to start after."""

    limit: int
    after: tuple[Any, ...] | None


def encode_cursor(position: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        position = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise GraphQLError("invalid cursor", extensions={"code": BAD_USER_INPUT}) from exc
    if not isinstance(position, list):
        raise GraphQLError("invalid cursor", extensions={"code": BAD_USER_INPUT})
    return tuple(position)


def page_request(first: int | None, after: str | None) -> PageRequest:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 0:
        raise GraphQLError("`first` must not be negative", extensions={"code": BAD_USER_INPUT})
    return PageRequest(
        limit=min(size, MAX_PAGE_SIZE), after=decode_cursor(after) if after else None
    )


@dataclass(frozen=True, slots=True)
class Page(Generic[RowT]):
    """Rows of one page; repositories fetch ``limit + 1`` rows to learn whether more follow."""

    rows: list[RowT]
    has_next_page: bool

    @classmethod
    def from_overfetch(cls, rows: Sequence[RowT], limit: int) -> Page[RowT]:
        return cls(rows=list(rows[:limit]), has_next_page=len(rows) > limit)


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
