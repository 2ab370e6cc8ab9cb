"""The page request every connection argument becomes, and the page built from an over-fetch
in either direction."""

from __future__ import annotations

import pytest

from subgraphs.kit.errors import BadUserInputError
from subgraphs.kit.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Page,
    PageRequest,
    encode_cursor,
    page_request,
)

CURSOR = encode_cursor(["b"])


def test_no_arguments_is_the_first_default_page() -> None:
    assert page_request() == PageRequest(limit=DEFAULT_PAGE_SIZE)


def test_last_and_before_page_backwards() -> None:
    assert page_request(last=3, before=CURSOR) == PageRequest(3, ("b",), backward=True)
    assert page_request(before=CURSOR).limit == DEFAULT_PAGE_SIZE
    assert page_request(first=3, after=CURSOR, reverse=True) == PageRequest(3, ("b",), reverse=True)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"first": MAX_PAGE_SIZE + 1}, f"`first` must be at most {MAX_PAGE_SIZE}"),
        ({"last": MAX_PAGE_SIZE + 1}, f"`last` must be at most {MAX_PAGE_SIZE}"),
        ({"first": -1}, "`first` must not be negative"),
        ({"last": -1}, "`last` must not be negative"),
        ({"first": 1, "last": 1}, "not both"),
        ({"after": CURSOR, "before": CURSOR}, "not both"),
        ({"first": 1, "before": CURSOR}, "not both"),
        ({"last": 1, "after": CURSOR}, "not both"),
        ({"after": "%%%"}, "invalid cursor"),
    ],
)
def test_refused_arguments(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(BadUserInputError, match=message):
        page_request(**arguments)  # type: ignore[arg-type]


def test_the_maximum_itself_is_allowed() -> None:
    assert page_request(first=MAX_PAGE_SIZE).limit == MAX_PAGE_SIZE
    assert page_request(last=MAX_PAGE_SIZE).limit == MAX_PAGE_SIZE


def test_pages_come_in_the_lists_order_whichever_way_they_were_fetched() -> None:
    forwards = Page.from_overfetch(["a", "b", "c"], PageRequest(2))
    assert forwards == Page(["a", "b"], has_next_page=True, has_previous_page=False)
    after = Page.from_overfetch(["c"], PageRequest(2, ("b",)))
    assert after == Page(["c"], has_next_page=False, has_previous_page=True)
    # Backwards, rows arrive nearest the cursor first.
    backwards = Page.from_overfetch(["c", "b", "a"], PageRequest(2, backward=True))
    assert backwards == Page(["b", "c"], has_next_page=False, has_previous_page=True)
    before = Page.from_overfetch(["a"], PageRequest(2, ("b",), backward=True))
    assert before == Page(["a"], has_next_page=True, has_previous_page=False)
