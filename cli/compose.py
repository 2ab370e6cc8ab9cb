"""Schema export, supergraph composition and the persisted-operations manifest.

Each subgraph's SDL is what Strawberry prints; composition is done by
@theguild/federation-composition (gateway/router/compose.mjs), the same library family the
router uses, so what we commit is what the router serves.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from graphql import OperationDefinitionNode, parse

from cli.stack import (
    OPERATIONS_DIR,
    REPO_ROOT,
    ROUTER_DIR,
    SCHEMA_DIR,
    SUBGRAPHS,
    SUPERGRAPH_CONFIG,
    SUPERGRAPH_FILE,
    ensure_router_installed,
)

MANIFEST_FILE = OPERATIONS_DIR / "manifest.json"


class CompositionError(RuntimeError):
    pass


def export_sdl(subgraph: str) -> str:
    module = importlib.import_module(SUBGRAPHS[subgraph].schema)
    return str(module.schema.as_str()).rstrip("\n") + "\n"


def supergraph_config() -> str:
    config = {
        "subgraphs": {
            name: {"routing_url": subgraph.routing_url, "schema": f"../schema/{name}.graphql"}
            for name, subgraph in SUBGRAPHS.items()
        }
    }
    header = "# Written by `loyalnest compose`: the subgraphs and where the router finds them.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def compose_supergraph(config: Path = SUPERGRAPH_CONFIG) -> str:
    ensure_router_installed()
    result = subprocess.run(
        ["node", str(ROUTER_DIR / "compose.mjs"), "--config", str(config), "--out", "-"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise CompositionError(result.stderr.strip() or result.stdout.strip())
    return result.stdout


@dataclass(frozen=True)
class PersistedOperation:
    id: str
    name: str
    type: str
    body: str


def persisted_operations(directory: Path = OPERATIONS_DIR) -> list[PersistedOperation]:
    """One operation per ``*.graphql`` file; its id is the sha256 of the file's text."""
    operations = []
    for path in sorted(directory.glob("*.graphql")):
        body = path.read_text()
        definitions = [d for d in parse(body).definitions if isinstance(d, OperationDefinitionNode)]
        if len(definitions) != 1 or definitions[0].name is None:
            raise CompositionError(f"{path}: expected exactly one named operation")
        operations.append(
            PersistedOperation(
                id=hashlib.sha256(body.encode()).hexdigest(),
                name=definitions[0].name.value,
                type=definitions[0].operation.value,
                body=body,
            )
        )
    return operations


def manifest_text(operations: list[PersistedOperation]) -> str:
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": op.id, "name": op.name, "type": op.type, "body": op.body} for op in operations
        ],
    }
    return json.dumps(manifest, indent=2) + "\n"


def expected_files() -> dict[Path, str]:
    """Every generated file and the text the code says it should have."""
    files = {SCHEMA_DIR / f"{name}.graphql": export_sdl(name) for name in SUBGRAPHS}
    files[SUPERGRAPH_CONFIG] = supergraph_config()
    files[MANIFEST_FILE] = manifest_text(persisted_operations())
    return files


def write_generated_files() -> list[Path]:
    """Write the SDL files, supergraph config and manifest, then compose. Returns what changed."""
    changed = []
    for path, text in expected_files().items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    supergraph = compose_supergraph()
    if not SUPERGRAPH_FILE.exists() or SUPERGRAPH_FILE.read_text() != supergraph:
        SUPERGRAPH_FILE.write_text(supergraph)
        changed.append(SUPERGRAPH_FILE)
    return changed
