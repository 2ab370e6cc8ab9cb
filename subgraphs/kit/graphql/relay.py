"""Relay connections: ``first`` / ``after`` / ``last`` / ``before`` (at most ``MAX_PAGE_SIZE``)
and ``reverse`` on every list, ``edges { cursor node }``, ``nodes`` and a full ``PageInfo``,
with opaque keyset cursors (``kit.pagination``). Every connection field is built here."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
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
    "paged",
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
ResultT = TypeVar("ResultT")

# Relay's four paging arguments and the order flip, as every connection field declares them.
PAGING_PARAMETERS = (
    inspect.Parameter(
        "first", inspect.Parameter.KEYWORD_ONLY, annotation=FirstArgument, default=None
    ),
    inspect.Parameter(
        "after", inspect.Parameter.KEYWORD_ONLY, annotation=AfterArgument, default=None
    ),
    inspect.Parameter(
        "last", inspect.Parameter.KEYWORD_ONLY, annotation=LastArgument, default=None
    ),
    inspect.Parameter(
        "before", inspect.Parameter.KEYWORD_ONLY, annotation=BeforeArgument, default=None
    ),
    inspect.Parameter(
        "reverse", inspect.Parameter.KEYWORD_ONLY, annotation=ReverseArgument, default=False
    ),
)


def paged(
    build: Callable[..., PageRequest] = page_request,
) -> Callable[[Callable[..., Awaitable[ResultT]]], Callable[..., Awaitable[ResultT]]]:
    """Give a connection resolver Relay's paging arguments: the field declares ``first`` /
    ``after`` / ``last`` / ``before`` / ``reverse`` where the resolver has its ``paging``
    parameter, and the resolver gets them as one ``PageRequest`` made by ``build``
    (``page_request``, or ``time_ordered_page`` for a list ordered by creation time), which
    refuses sizes and cursors that are the client's mistake before the resolver runs.

    Strawberry reads a resolver's arguments from its signature, so the wrapper's
    ``__signature__`` is the resolver's with ``paging`` replaced by the five arguments; the
    other parameters keep their (string) annotations, resolved in the resolver's module."""

    def decorate(
        resolver: Callable[..., Awaitable[ResultT]],
    ) -> Callable[..., Awaitable[ResultT]]:
        signature = inspect.signature(resolver)
        if "paging" not in signature.parameters:
            raise TypeError(f"{resolver.__qualname__} needs a `paging` parameter to be paged")
        parameters = list(signature.parameters.values())
        at = list(signature.parameters).index("paging")
        # Keyword-only from `paging` on: the five come with defaults, whatever follows them.
        after_page = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters[at + 1 :]]

        @functools.wraps(resolver)
        async def with_page(
            *args: Any,
            first: int | None = None,
            after: str | None = None,
            last: int | None = None,
            before: str | None = None,
            reverse: bool = False,
            **kwargs: Any,
        ) -> ResultT:
            paging = build(first, after, last, before, reverse=reverse)
            return await resolver(*args, paging=paging, **kwargs)

        with_page.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*parameters[:at], *PAGING_PARAMETERS, *after_page]
        )
        return with_page

    return decorate


# Cursors are encoded when a client asks for them, not for every row of every page: most
# lists are read for their nodes, and a row's cursor (its keyset position, as JSON in base64)
# was a fifth of a 100-row page's cost per row (py-spy, bench/api.py).
def _start_cursor(root: Any) -> str | None:
    edges: list[Edge[Any]] = root.edges
    return edges[0].cursor_of() if edges else None


def _end_cursor(root: Any) -> str | None:
    edges: list[Edge[Any]] = root.edges
    return edges[-1].cursor_of() if edges else None


def _edge_cursor(root: Any) -> str:
    cursor: str = root.cursor_of()
    return cursor


@strawberry.federation.type(shareable=True, description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="More items precede this page.")
    start_cursor: str | None = strawberry.field(
        description="The first item's cursor: pass as `before` for the previous page.",
        resolver=_start_cursor,
    )
    end_cursor: str | None = strawberry.field(
        description="The last item's cursor: pass as `after` for the next page.",
        resolver=_end_cursor,
    )
    edges: strawberry.Private[list[Edge[Any]]]


@strawberry.federation.type(shareable=True, description="One item of a page and its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(
        description="Opaque position of this item.", resolver=_edge_cursor
    )
    node: NodeT = strawberry.field(description="The item.")
    cursor_of: strawberry.Private[Callable[[], str]]


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
    edges = [
        Edge(node=node(row), cursor_of=functools.partial(_cursor_of, position, row))
        for row in page.rows
    ]
    return Connection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            edges=edges,
        ),
    )


def _cursor_of(position: Callable[[RowT], Sequence[Any]], row: RowT) -> str:
    return encode_cursor(position(row))
