"""Global IDs: one codec, ``gid://loyalnest/<Type>/<uuid>``, that round-trips; a malformed ID or
one of another type is BAD_USER_INPUT with a message saying why, never a masked error."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import pytest
import strawberry

from db.ids import new_id
from subgraphs.kit.errors import BadUserInputError
from subgraphs.kit.global_ids import (
    GlobalId,
    decode_global_id,
    encode_global_id,
    local_id,
    local_ids,
)
from subgraphs.kit.graphql.node import global_id
from subgraphs.kit.graphql.schema import build_schema


def test_an_id_round_trips_with_its_type() -> None:
    row_id = new_id()

    encoded = global_id("Reward", row_id)

    assert encoded == f"gid://loyalnest/Reward/{row_id}"
    assert decode_global_id(encoded) == GlobalId(type_name="Reward", local_id=row_id)
    assert str(decode_global_id(encoded)) == encoded
    assert local_id(encoded, "Reward") == row_id
    assert local_id(encoded, ("Customer", "Reward")) == row_id
    assert local_ids([encoded, encode_global_id("Reward", row_id)], "Reward") == [row_id] * 2


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-an-id",
        new_id(),  # a bare database id, as the API answered before global IDs
        f"gid://shopify/Customer/{new_id()}",
        f"gid://loyalnest/Customer/{new_id()}/extra",
        f"gid://loyalnest/Customer/{new_id().upper()}",
        f"gid://loyalnest/customer/{new_id()}",
        "gid://loyalnest/Customer/12345",
        f"gid://loyalnest/Customer/{new_id()}\x00",
        f" gid://loyalnest/Customer/{new_id()}",
        None,
        42,
    ],
)
def test_a_malformed_id_is_bad_user_input(value: object) -> None:
    with pytest.raises(BadUserInputError, match="is not a LoyalNest ID") as raised:
        decode_global_id(value)

    assert raised.value.extensions == {"code": "BAD_USER_INPUT"}


def test_an_id_of_another_type_is_bad_user_input_naming_both() -> None:
    reward = global_id("Reward", new_id())

    with pytest.raises(BadUserInputError) as raised:
        local_id(reward, "Customer")
    with pytest.raises(BadUserInputError, match="a Customer or VipTier ID is expected"):
        local_id(reward, ("Customer", "VipTier"))

    assert "is the ID of a Reward; a Customer ID is expected here" in raised.value.message


def test_a_long_bad_id_is_not_echoed_whole() -> None:
    with pytest.raises(BadUserInputError) as raised:
        decode_global_id("x" * 10_000)

    assert len(raised.value.message) < 200


@strawberry.type
class Query:
    @strawberry.field
    def customer_row(
        self, id: Annotated[strawberry.ID, strawberry.argument(description="A Customer.")]
    ) -> str:
        return local_id(id, "Customer")


SCHEMA = build_schema(name="test", query=Query)


def run(value: str) -> Any:
    return SCHEMA.execute_sync("query($id: ID!) { customerRow(id: $id) }", {"id": value})


def test_through_a_subgraph_schema_bad_ids_reach_the_client_as_bad_user_input() -> None:
    row_id = str(uuid.uuid4())
    good = run(f"gid://loyalnest/Customer/{row_id}")
    malformed = run(row_id)
    wrong_type = run(f"gid://loyalnest/Reward/{row_id}")

    assert good.errors is None
    assert good.data == {"customerRow": row_id}
    for result in (malformed, wrong_type):
        assert result.data is None
        [error] = result.errors or []
        assert error.extensions == {"code": "BAD_USER_INPUT"}
        assert error.message != "Unexpected error."
    assert "is not a LoyalNest ID" in (malformed.errors or [])[0].message
    assert "a Customer ID is expected here" in (wrong_type.errors or [])[0].message
