"""Keyset pagination primitives: what a repository needs to fetch one page, and opaque cursors.

The GraphQL connection types built on these live in ``kit.graphql.relay``.
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
    """What the repository needs: how many rows, and the keyset position to start after."""

    limit: int
    after: tuple[Any, ...] | None


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


def page_request(first: int | None, after: str | None) -> PageRequest:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 0:
        raise BadUserInputError("`first` must not be negative")
    return PageRequest(
        limit=min(size, MAX_PAGE_SIZE), after=decode_cursor(after) if after else None
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


def time_ordered_page(first: int | None, after: str | None) -> PageRequest:
    """``page_request`` for a list ordered by (created_at, id): ``after`` is decoded to a
    (timezone-aware datetime, id) position. Anything else (a cursor of another list, a time
    without a zone) is the client's mistake."""
    request = page_request(first, after)
    if request.after is None:
        return request
    try:
        created_at, row_id = request.after
        position = (datetime.fromisoformat(created_at), row_id)
    except (TypeError, ValueError):
        raise BadUserInputError("invalid cursor") from None
    if position[0].tzinfo is None or not isinstance(row_id, str):
        raise BadUserInputError("invalid cursor")
    return PageRequest(limit=request.limit, after=position)


@dataclass(frozen=True, slots=True)
class Page(Generic[RowT]):
    """Rows of one page; repositories fetch ``limit + 1`` rows to learn whether more follow."""

    rows: list[RowT]
    has_next_page: bool

    @classmethod
    def from_overfetch(cls, rows: Sequence[RowT], limit: int) -> Page[RowT]:
        return cls(rows=list(rows[:limit]), has_next_page=len(rows) > limit)
