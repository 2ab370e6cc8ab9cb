"""``kit.graphql.relay.paged``: a connection resolver declares one ``paging`` parameter and the
field gets Relay's five paging arguments in its place, checked before the resolver runs."""

from __future__ import annotations

import pytest
import strawberry

from subgraphs.kit.graphql.relay import MAX_PAGE_SIZE, paged
from subgraphs.kit.pagination import PageRequest, encode_cursor, time_ordered_page

seen: list[PageRequest] = []


@strawberry.type
class Query:
    @strawberry.field
    @paged()
    async def items(self, kind: str, paging: PageRequest, *, flag: bool = False) -> str:
        seen.append(paging)
        return f"{kind}:{paging.limit}:{flag}"

    @strawberry.field
    @paged(time_ordered_page)
    async def events(self, *, paging: PageRequest) -> int:
        seen.append(paging)
        return paging.limit


SCHEMA = strawberry.Schema(query=Query)


def test_the_five_arguments_stand_where_paging_was() -> None:
    items = SCHEMA.get_type_by_name("Query").fields  # type: ignore[union-attr]
    names = [argument.python_name for argument in items[0].arguments]
    assert names == ["kind", "first", "after", "last", "before", "reverse", "flag"]


async def test_the_resolver_gets_one_page_request() -> None:
    seen.clear()
    cursor = encode_cursor(["b"])
    result = await SCHEMA.execute(
        f'{{ items(kind: "x", last: 3, before: "{cursor}", reverse: true, flag: true) }}'
    )
    assert result.errors is None
    assert result.data == {"items": "x:3:True"}
    assert seen == [PageRequest(3, ("b",), backward=True, reverse=True)]


async def test_a_bad_page_is_refused_before_the_resolver_runs() -> None:
    seen.clear()
    result = await SCHEMA.execute(f"{{ events(first: {MAX_PAGE_SIZE + 1}) }}")
    assert result.errors is not None
    assert f"at most {MAX_PAGE_SIZE}" in result.errors[0].message
    result = await SCHEMA.execute('{ events(after: "W10") }')  # a cursor of another list
    assert result.errors is not None
    assert result.errors[0].message.startswith("invalid cursor")
    assert seen == []


def test_a_resolver_without_paging_is_a_programming_error() -> None:
    async def unpaged(kind: str) -> str:
        return kind

    with pytest.raises(TypeError, match="paging"):
        paged()(unpaged)
