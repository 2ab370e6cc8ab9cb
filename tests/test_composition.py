"""The committed schema files are exactly what the code produces: change a field without
running `loyalnest compose` and these fail."""

from __future__ import annotations

import pytest

from cli.compose import (
    MANIFEST_FILE,
    compose_supergraph,
    export_sdl,
    manifest_text,
    persisted_operations,
    supergraph_config,
)
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


def test_every_persisted_operation_is_valid_against_the_supergraph() -> None:
    from graphql import build_schema, parse, validate

    supergraph = build_schema(SUPERGRAPH_FILE.read_text(), assume_valid_sdl=True)
    for operation in persisted_operations():
        errors = validate(supergraph, parse(operation.body))
        assert errors == [], f"{operation.name}: {errors}"
