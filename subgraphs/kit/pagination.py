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
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Protocol, TypeVar

import orjson

from subgraphs.kit.errors import BadUserInputError
from subgraphs.kit.validation import string_refusal

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


# The one cursor codec. A cursor is unpadded URL-safe base64 of a JSON array of at most
# MAX_POSITION_VALUES scalars (strings and 64-bit integers: what positions hold). Anything a
# client sends is decoded twice: ``decode_cursor`` checks that shape (so nothing unhashable,
# nested or unstorable reaches a loader key or Postgres), ``typed_position`` that each value
# is of the kind its list's order needs. Either way a refusal is BAD_USER_INPUT "invalid
# cursor", never an error inside a repository.
MAX_CURSOR_CHARS = 1024
MAX_POSITION_VALUES = 8
_INT64 = 2**63


def invalid_cursor(why: str) -> BadUserInputError:
    return BadUserInputError(f"invalid cursor: {why}")


def encode_cursor(position: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str | int, ...]:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise invalid_cursor("too long")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        position = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError):
        raise invalid_cursor("not one this API made") from None
    if not isinstance(position, list) or not 0 < len(position) <= MAX_POSITION_VALUES:
        raise invalid_cursor("not one this API made")
    for value in position:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise invalid_cursor("not one this API made")
        if isinstance(value, int) and not -_INT64 <= value < _INT64:
            raise invalid_cursor("a number out of range")
        if isinstance(value, str) and string_refusal(value) is not None:
            raise invalid_cursor("it holds a character that is not text")
    return tuple(position)


def typed_value(kind: type, value: object) -> Any:
    """One position value as the Python type of its column: a datetime from an ISO string
    with a zone, an int from an int, a str from a str, a Decimal from a finite number. Raises
    ``invalid cursor`` for anything else, never coerces (``str(["x"])`` is not an id). A
    value already of its type is itself."""
    if kind is datetime:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value  # typed already (``time_ordered_page``)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return parsed
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is Decimal and isinstance(value, Decimal) and value.is_finite():
        return value
    elif kind is Decimal and isinstance(value, str | int) and not isinstance(value, bool):
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    raise invalid_cursor("it does not fit this list's order")


def typed_position(kinds: Sequence[type], position: Sequence[Any]) -> tuple[Any, ...]:
    """A decoded cursor checked against its list's order: as many values as ``kinds``, each
    of its kind (``typed_value``)."""
    if len(position) != len(kinds):
        raise invalid_cursor("it does not fit this list's order")
    return tuple(typed_value(kind, value) for kind, value in zip(kinds, position, strict=True))


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
    position = typed_position((datetime, str), request.cursor)
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
