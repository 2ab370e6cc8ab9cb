"""graphql-schema-linter (npm, a dev dependency of gateway/router) over the API schema the
router serves: its Relay rules, and its description and deprecation rules, as a second opinion
on the composed schema beside our own checks (tests/test_relay_spec.py, which also wants
``last``/``before`` on every connection, and tests/test_schema_conventions.py, per subgraph)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli.contract import public_schema_sdl
from cli.stack import ROUTER_DIR

RELAY_RULES = [
    "relay-connection-types-spec",
    "relay-connection-arguments-spec",
    "relay-page-info-spec",
]
DESCRIPTION_RULES = [
    "types-have-descriptions",
    "fields-have-descriptions",
    "arguments-have-descriptions",
    "enum-values-have-descriptions",
    "input-object-values-have-descriptions",
    "deprecations-have-a-reason",
]
LINTER = ROUTER_DIR / "node_modules" / ".bin" / "graphql-schema-linter"


def lint(sdl: str, rules: list[str], tmp_path: Path) -> list[str]:
    """``rule: message`` for each violation graphql-schema-linter finds in ``sdl``."""
    # A node_modules installed before the linter joined package.json lacks it.
    assert LINTER.exists(), "run `npm ci` in gateway/router (graphql-schema-linter is missing)"
    schema = tmp_path / "schema.graphql"
    schema.write_text(sdl)
    result = subprocess.run(
        [str(LINTER), "--rules", ",".join(rules), "--format", "json", str(schema)],
        capture_output=True,
        text=True,
        check=False,
    )
    # An unknown rule name is only a warning on stderr: a typo must not pass as "no errors".
    assert "invalid" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), result.stderr
    return [f"{error['rule']}: {error['message']}" for error in json.loads(result.stdout)["errors"]]


@pytest.fixture(scope="module")
def api_sdl() -> str:
    return public_schema_sdl()


def test_the_api_schema_passes_the_relay_rules(api_sdl: str, tmp_path: Path) -> None:
    assert lint(api_sdl, RELAY_RULES, tmp_path) == []


def test_the_api_schema_is_described_and_every_deprecation_has_a_reason(
    api_sdl: str, tmp_path: Path
) -> None:
    assert lint(api_sdl, DESCRIPTION_RULES, tmp_path) == []


def test_the_linter_catches_a_connection_off_the_spec(tmp_path: Path) -> None:
    planted = """
    type Query { things(reverse: Boolean): ThingConnection! }
    type Thing { id: ID! }
    type ThingEdge { node: Thing!, cursor: String! }
    type ThingConnection { edges: [ThingEdge!]! }
    type PageInfo { hasNextPage: Boolean!, hasPreviousPage: Boolean! }
    """

    assert sorted(error.split(":")[0] for error in lint(planted, RELAY_RULES, tmp_path)) == [
        "relay-connection-arguments-spec",
        "relay-connection-types-spec",
    ]
