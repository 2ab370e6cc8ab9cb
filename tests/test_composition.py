"""The committed schema files are exactly what the code produces: change a field without
running `loyalnest compose` and these fail."""

from __future__ import annotations

import pytest

from cli.compose import (
    MANIFEST_FILE,
    PersistedOperation,
    compose_supergraph,
    export_sdl,
    manifest_text,
    persisted_operations,
    supergraph_config,
)
from cli.contract import operation_problems, public_schema_sdl
from cli.stack import SCHEMA_DIR, SUBGRAPHS, SUPERGRAPH_CONFIG, SUPERGRAPH_FILE

HINT = "run `loyalnest compose` and commit the result"


@pytest.mark.parametrize("subgraph", list(SUBGRAPHS))
def test_committed_subgraph_sdl_matches_the_code(subgraph: str) -> None:
    committed = (SCHEMA_DIR / f"{subgraph}.graphql").read_text()
    assert committed == export_sdl(subgraph), HINT


def test_committed_supergraph_config_matches_the_subgraphs() -> None:
    assert SUPERGRAPH_CONFIG.read_text() == supergraph_config(), HINT


def test_committed_supergraph_is_the_composition_of_the_committed_sdl() -> None:
    assert SUPERGRAPH_FILE.read_text() == compose_supergraph(), HINT


def test_persisted_operations_manifest_is_current() -> None:
    assert MANIFEST_FILE.read_text() == manifest_text(persisted_operations()), HINT


@pytest.fixture(scope="module")
def api_sdl() -> str:
    """The API schema the router serves: the supergraph without join__/link__ machinery. An
    operation naming those (or @inaccessible fields) would validate against the supergraph
    itself and still fail at the router."""
    return public_schema_sdl()


def test_every_persisted_operation_is_valid_against_the_api_schema(api_sdl: str) -> None:
    operations = persisted_operations()

    assert operations, "no persisted operations found"
    assert operation_problems(api_sdl, operations) == []


def test_an_operation_naming_a_missing_field_is_caught(api_sdl: str) -> None:
    body = "query Broken($id: ID!) { customer(id: $id) { id loyaltyScore } }\n"
    broken = PersistedOperation(id="0" * 64, name="Broken", type="query", body=body)
    federation = PersistedOperation(
        id="1" * 64, name="Federation", type="query", body="query Federation { _service { sdl } }"
    )

    assert operation_problems(api_sdl, [broken, federation]) == [
        "persisted operation Broken is invalid: "
        "Cannot query field 'loyaltyScore' on type 'Customer'.",
        "persisted operation Federation is invalid: Cannot query field '_service' on type 'Query'.",
    ]
