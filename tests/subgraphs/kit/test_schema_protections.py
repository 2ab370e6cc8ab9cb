"""Every subgraph schema's protections: the depth and token limits hold, and they do not
defeat the validation cache (a repeated document is validated once per process)."""

from __future__ import annotations

from subgraphs.kit.graphql.schema import MAX_DEPTH, MAX_TOKENS
from subgraphs.points.schema import schema as points_schema

VALIDATION = points_schema.shape_validation


async def test_a_repeated_document_is_validated_once() -> None:
    query = "query Repeated($n: Int) { customers(first: $n) { edges { node { id } } } }"
    await points_schema.execute(query, variable_values={"n": 1})
    before = (VALIDATION.shape_runs, VALIDATION.value_runs)

    for n in range(2, 12):
        await points_schema.execute(query, variable_values={"n": n})

    assert (VALIDATION.shape_runs, VALIDATION.value_runs) == before


async def test_documents_differing_only_in_literals_check_their_shape_once() -> None:
    def query(bound: int) -> str:
        return f'{{ customers(first: 3, query: "points_balance:<={bound}") {{ nodes {{ id }} }} }}'

    await points_schema.execute(query(0))
    shapes, values = VALIDATION.shape_runs, VALIDATION.value_runs
    literals = VALIDATION.literal_runs

    for bound in range(1, 11):
        await points_schema.execute(query(bound))  # no viewer: validation is what counts here

    # Neither the shape rules nor the value rules walk these documents again: only each one's
    # literals are checked against what the shape's types ask of them.
    assert VALIDATION.shape_runs == shapes
    assert VALIDATION.value_runs == values
    assert VALIDATION.literal_runs == literals + 10


def past_the_depth_limit() -> str:
    """Selections nested one level deeper than allowed (the depth rule runs whatever the
    fields are, so the document is refused for its depth before anything resolves)."""
    fields = "id"
    for _ in range(MAX_DEPTH):
        fields = f"edges {{ node {{ {fields} }} }}"
    return fields


async def test_too_deep_a_document_is_refused_before_it_runs() -> None:
    deep = (
        "{ customers(first: 1) { edges { node { id "
        + "pointsTransactions(first: 1) { edges { node { id } } } "
        + "} } } }"
    )
    too_deep = f"{{ customers(first: 1) {{ {past_the_depth_limit()} }} }}"

    shallow = await points_schema.execute(deep)
    refused = await points_schema.execute(too_deep)

    assert not any("exceeds maximum operation depth" in e.message for e in shallow.errors or [])
    assert refused.errors is not None
    assert any("exceeds maximum operation depth" in e.message for e in refused.errors)


async def test_too_many_tokens_are_refused() -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(MAX_TOKENS))

    result = await points_schema.execute(f"{{ {aliases} }}")

    assert result.errors is not None
    assert "token" in result.errors[0].message.lower()


async def test_fragments_do_not_hide_depth() -> None:
    query = (
        f"fragment Deep on CustomerConnection {{ {past_the_depth_limit()} }} "
        "{ customers(first: 1) { ...Deep } }"
    )

    result = await points_schema.execute(query)

    assert result.errors is not None
    assert any("exceeds maximum operation depth" in e.message for e in result.errors)
