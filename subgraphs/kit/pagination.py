"""Keyset pagination primitives: what a repository needs to fetch one page (direction, size,
cursor, order), the page it returns, and opaque cursors.

The GraphQL connection types built on these live in ``kit.graphql.relay``; the keyset SQL for
both directions in ``kit.repository`` (``TenantRepository.paginate`` and the per-owner window).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import orjson

from subgraphs.kit.errors import BadUserInputError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the repository needs: how many rows, the keyset position to start beyond (None:
    from the start of the direction of travel), whether to travel backwards (``last`` /
    ``before``), and whether the list's order is flipped (``reverse``). Rows of a page are
    always returned in the list's order, whichever way it was fetched."""

    limit: int
    cursor: tuple[Any, ...] | None = None
    backward: bool = False
    reverse: bool = False


def encode_cursor(position: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        position = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadUserInputError("invalid cursor") from exc
    if not isinstance(position, list):
        raise BadUserInputError("invalid cursor")
    return tuple(position)


def _checked_size(name: str, value: int | None) -> None:
    if value is None:
        return
    if value < 0:
        raise BadUserInputError(f"`{name}` must not be negative")
    if value > MAX_PAGE_SIZE:
        raise BadUserInputError(f"`{name}` must be at most {MAX_PAGE_SIZE} (got {value})")


def page_request(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    *,
    reverse: bool = False,
) -> PageRequest:
    """The Relay arguments of a connection field as a ``PageRequest``: ``first`` / ``after``
    page forwards, ``last`` / ``before`` backwards (neither: the first ``DEFAULT_PAGE_SIZE``).
    A size above ``MAX_PAGE_SIZE`` or below zero, or arguments of both directions, are the
    client's mistake."""
    _checked_size("first", first)
    _checked_size("last", last)
    if first is not None and last is not None:
        raise BadUserInputError("give `first` or `last`, not both")
    if after is not None and before is not None:
        raise BadUserInputError("give `after` or `before`, not both")
    backward = last is not None or before is not None
    if backward and (first is not None or after is not None):
        raise BadUserInputError(
            "page forwards with `first` / `after` or backwards with `last` / `before`, not both"
        )
    size = first if first is not None else last
    cursor = after if after is not None else before
    return PageRequest(
        limit=DEFAULT_PAGE_SIZE if size is None else size,
        cursor=None if cursor is None else decode_cursor(cursor),
        backward=backward,
        reverse=reverse,
    )


class TimeOrderedRow(Protocol):
    """A row of a list ordered by when it was created, then by id."""

    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> str: ...


def time_ordered_position(row: TimeOrderedRow) -> tuple[str, str]:
    """The cursor position of a row in a list ordered by (created_at, id). created_at comes
    first, so the position stays meaningful across the monthly partitions of the logs."""
    return (row.created_at.isoformat(), row.id)


def time_ordered_page(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    *,
    reverse: bool = False,
) -> PageRequest:
    """``page_request`` for a list ordered by (created_at, id): the cursor is decoded to a
    (timezone-aware datetime, id) position. Anything else (a cursor of another list, a time
    without a zone) is the client's mistake."""
    request = page_request(first, after, last, before, reverse=reverse)
    if request.cursor is None:
        return request
    try:
        created_at, row_id = request.cursor
        position = (datetime.fromisoformat(created_at), row_id)
    except (TypeError, ValueError):
        raise BadUserInputError("invalid cursor") from None
    if position[0].tzinfo is None or not isinstance(row_id, str):
        raise BadUserInputError("invalid cursor")
    return PageRequest(
        limit=request.limit, cursor=position, backward=request.backward, reverse=reverse
    )


@dataclass(frozen=True, slots=True)
class Page(Generic[RowT]):
    """Rows of one page, in the list's order, and whether rows lie beyond either end."""

    rows: list[RowT]
    has_next_page: bool
    has_previous_page: bool = False

    @classmethod
    def from_overfetch(cls, rows: Sequence[RowT], request: PageRequest) -> Page[RowT]:
        """From ``limit + 1`` rows fetched in the direction of travel: the extra row says more
        lie ahead; a cursor given says rows lie behind (the row it was taken from)."""
        found = list(rows[: request.limit])
        more = len(rows) > request.limit
        behind = request.cursor is not None
        if request.backward:
            found.reverse()
            return cls(rows=found, has_next_page=behind, has_previous_page=more)
        return cls(rows=found, has_next_page=more, has_previous_page=behind)
