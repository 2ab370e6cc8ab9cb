"""Plain selections are completed in one pass (kit/graphql/execution.py): every answer, and
every error, is what graphql-core's own completion gives."""

from __future__ import annotations

import asyncio
import gc
import weakref
from enum import Enum
from functools import cached_property
from typing import Any

import pytest
import strawberry
from strawberry.dataloader import DataLoader

from subgraphs.kit.graphql import execution
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.graphql.execution import PlainFieldsExecutionContext


@strawberry.enum
class Tier(Enum):
    GOLD = "gold"
    SILVER = "silver"


@strawberry.type
class Shopper:
    id: strawberry.ID
    points: int
    tier: Tier
    nickname: str | None
    # Awaitables may be stored in a plain field: the generic path awaits them.
    pending: strawberry.Private[Any]

    @strawberry.field
    def shouted(self) -> str:
        return self.id.upper()

    @strawberry.field
    async def later(self) -> int:
        return self.points + 1


@strawberry.type
class Page:
    nodes: list[Shopper]
    total: int


def _shoppers(nickname_of_first: str | None = "ann") -> list[Shopper]:
    return [
        Shopper(
            id=strawberry.ID(f"s{index}"),
            points=index * 10,
            tier=Tier.GOLD if index % 2 else Tier.SILVER,
            nickname=nickname_of_first if index == 0 else None,
            pending=None,
        )
        for index in range(4)
    ]


ROWS: dict[str, Any] = {}


@strawberry.type
class Query:
    @strawberry.field
    def page(self) -> Page:
        rows = ROWS["rows"]
        return Page(nodes=rows, total=len(rows))


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    return strawberry.Schema(Query), strawberry.Schema(
        Query, execution_context_class=PlainFieldsExecutionContext
    )


QUERIES = [
    "{ page { total nodes { id points tier nickname } } }",
    "{ page { nodes { key: id id pts: points __typename } } }",
    "{ page { nodes { ...Parts points } } } fragment Parts on Shopper { id tier }",
    "query($show: Boolean!) { page { nodes { id points @include(if: $show) "
    "nickname @skip(if: $show) } } }",
    "{ page { nodes { id shouted later tier } } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_plain_selections_answer_as_graphql_core_does(query: str) -> None:
    ROWS["rows"] = _shoppers()
    generic, plain = _schemas()
    for show in (True, False):
        expected = await generic.execute(query, variable_values={"show": show})
        answered = await plain.execute(query, variable_values={"show": show})
        assert expected.errors is None
        assert answered.errors is None
        assert answered.data == expected.data


@strawberry.type
class StrictShopper:
    id: strawberry.ID
    points: int


@strawberry.type
class StrictQuery:
    @strawberry.field
    def shoppers(self) -> list[StrictShopper | None]:
        rows: list[StrictShopper | None] = ROWS["strict"]
        return rows


async def test_a_null_in_a_non_null_field_is_the_same_error_at_the_same_path() -> None:
    ROWS["strict"] = [
        StrictShopper(id=strawberry.ID("a"), points=1),
        StrictShopper(id=strawberry.ID("b"), points=None),  # type: ignore[arg-type]
        StrictShopper(id=strawberry.ID("c"), points="many"),  # type: ignore[arg-type]
    ]
    query = "{ shoppers { id points } }"
    expected = await strawberry.Schema(StrictQuery).execute(query)
    answered = await strawberry.Schema(
        StrictQuery, execution_context_class=PlainFieldsExecutionContext
    ).execute(query)
    assert answered.data == expected.data == {"shoppers": [{"id": "a", "points": 1}, None, None]}
    assert [(error.message, error.path) for error in answered.errors or []] == [
        (error.message, error.path) for error in expected.errors or []
    ]
    assert [error.path for error in answered.errors or []] == [
        ["shoppers", 1, "points"],
        ["shoppers", 2, "points"],
    ]


async def _later_points() -> int:
    return 7


@strawberry.type
class Lazy:
    points: int


@strawberry.type
class LazyQuery:
    @strawberry.field
    def items(self) -> list[Lazy]:
        return [Lazy(points=_later_points()), Lazy(points=3)]  # type: ignore[arg-type]


async def test_an_awaitable_in_a_plain_field_is_awaited() -> None:
    answered = await strawberry.Schema(
        LazyQuery, execution_context_class=PlainFieldsExecutionContext
    ).execute("{ items { points } }")
    assert answered.errors is None
    assert answered.data == {"items": [{"points": 7}, {"points": 3}]}


async def test_the_fast_path_reads_plain_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan is made once per selection and every plain row is read by it (the fast path
    is taken, not only correct)."""
    ROWS["rows"] = _shoppers()
    plans: list[str] = []
    made = execution._plan

    def counting(*args: Any) -> Any:
        plan = made(*args)
        plans.append(f"{args[1].name}:{len(plan)}")
        return plan

    monkeypatch.setattr(execution, "_plan", counting)
    reads: list[int] = []
    read_plain = PlainFieldsExecutionContext._read_plain

    def counting_reads(self: PlainFieldsExecutionContext, plan: Any, source: Any) -> Any:
        reads.append(1)
        return read_plain(self, plan, source)

    monkeypatch.setattr(PlainFieldsExecutionContext, "_read_plain", counting_reads)
    _, plain = _schemas()
    answered = await plain.execute("{ page { total nodes { id points } } }")
    assert answered.errors is None
    # Query and Page select a field that is not a plain scalar (page, nodes): generic.
    assert plans == ["Query:0", "Page:0", "Shopper:2"]
    assert len(reads) == 4


class _Loaders:
    """Loaders as a subgraph has them: each loader's batch function holds its loaders."""

    def __init__(self) -> None:
        self.merchant_id = "m1"

    @cached_property
    def things(self) -> DataLoader[str, Any]:
        async def load(keys: list[str]) -> list[Any]:
            return [self.merchant_id for _ in keys]

        return DataLoader(load_fn=load)


class _Kept:
    pass


async def test_a_released_context_frees_what_its_loaders_cached_without_the_collector() -> None:
    context: Context[_Loaders] = Context.__new__(Context)
    context._loaders = _Loaders()
    kept = _Kept()
    context._loaders.things.prime("a", kept)
    alive = weakref.ref(kept)
    del kept
    gc.disable()
    try:
        context.release()
        await asyncio.sleep(0)
        assert alive() is None
        assert context._loaders is None
    finally:
        gc.enable()


@strawberry.type
class Pet:
    name: str
    legs: int

    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, Pet)


class Robot:
    """The same attributes as a Pet: only the type check tells them apart."""

    def __init__(self, name: str, legs: int) -> None:
        self.name = name
        self.legs = legs


@strawberry.type
class ListsQuery:
    @strawberry.field
    def maybe_shoppers(self) -> list[StrictShopper | None]:
        return [StrictShopper(id=strawberry.ID("a"), points=1), None]

    @strawberry.field
    def shoppers(self) -> list[StrictShopper]:
        rows: list[StrictShopper] = ROWS["lists"]
        return rows

    @strawberry.field
    def pets(self) -> list[Pet]:
        # A Robot where a Pet is promised: graphql-core's type check must still refuse it.
        things: list[Pet] = ROWS["pets"]
        return things


@pytest.mark.parametrize(
    ("query", "rows", "pets"),
    [
        ("{ maybeShoppers { id points } }", [], []),
        (
            "{ shoppers { id points } }",
            [StrictShopper(id=strawberry.ID("a"), points=1), None],
            [],
        ),
        (
            "{ shoppers { id points } }",
            [
                StrictShopper(id=strawberry.ID("a"), points=1),
                StrictShopper(id=strawberry.ID("b"), points=2),
            ],
            [],
        ),
        ("{ pets { name legs } }", [], [Pet(name="rex", legs=4), Pet(name="tom", legs=4)]),
        ("{ pets { name legs } }", [], [Pet(name="rex", legs=4), Robot(name="r2", legs=3)]),
    ],
)
async def test_lists_of_plain_objects_answer_and_fail_as_graphql_core_does(
    query: str, rows: list[Any], pets: list[Any]
) -> None:
    ROWS["lists"], ROWS["pets"] = rows, pets
    expected = await strawberry.Schema(ListsQuery).execute(query)
    answered = await strawberry.Schema(
        ListsQuery, execution_context_class=PlainFieldsExecutionContext
    ).execute(query)
    assert answered.data == expected.data
    assert [(error.message, error.path) for error in answered.errors or []] == [
        (error.message, error.path) for error in expected.errors or []
    ]
