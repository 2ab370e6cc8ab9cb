"""The layering of docs/architecture.md ("What may import what"), enforced by import-linter's
contracts in pyproject.toml: that they pass on our code, and that they would catch a
violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PYPROJECT = REPO_ROOT / "pyproject.toml"

PACKAGES = ("db", "subgraphs", "gateway", "cli", "worker")
KIT_CORE = "kit's core and integrations never import Strawberry, Starlette or kit.graphql"
FRAMEWORK_FREE = "services, repositories, jobs and the worker stay free of web frameworks"
NO_GRAPHQL_MODULES = "the edge app and the worker never import GraphQL modules"
EXPECTED_CONTRACTS = {
    "db imports nothing of the project",
    "kit imports only db",
    KIT_CORE,
    "subgraphs never import each other",
    "subgraphs never import the gateway, the CLI or the worker",
    FRAMEWORK_FREE,
    NO_GRAPHQL_MODULES,
}


def importlinter_config() -> dict[str, Any]:
    with PYPROJECT.open("rb") as file:
        config: dict[str, Any] = tomllib.load(file)["tool"]["importlinter"]
    return config


def run_lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(PYPROJECT), "--no-cache", "--no-logo"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_design_rules_are_all_configured() -> None:
    names = [contract["name"] for contract in importlinter_config()["contracts"]]

    assert set(names) == EXPECTED_CONTRACTS
    assert len(names) == len(set(names))
    assert set(importlinter_config()["root_packages"]) == set(PACKAGES)
    framework_free = next(
        contract
        for contract in importlinter_config()["contracts"]
        if contract["name"] in (FRAMEWORK_FREE, KIT_CORE)
    )
    # Indirect imports count: a service must not reach Strawberry through a helper module.
    assert framework_free["allow_indirect_imports"] is False


def test_the_code_keeps_every_contract() -> None:
    result = run_lint_imports(REPO_ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(EXPECTED_CONTRACTS)} kept, 0 broken" in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract"),
    [
        ("db/session.py", "subgraphs.kit.cache", "db imports nothing of the project"),
        ("subgraphs/kit/cache.py", "subgraphs.points.schema", "kit imports only db"),
        ("subgraphs/kit/cache.py", "strawberry", KIT_CORE),
        ("subgraphs/kit/integrations/alerts.py", "starlette.requests", KIT_CORE),
        # Indirectly: kit.graphql is where Strawberry lives.
        ("subgraphs/kit/settings.py", "subgraphs.kit.graphql.relay", KIT_CORE),
        (
            "subgraphs/points/schema.py",
            "subgraphs.referrals.schema",
            "subgraphs never import each other",
        ),
        (
            "subgraphs/kit/cache.py",
            "cli.stack",
            "subgraphs never import the gateway, the CLI or the worker",
        ),
        (
            "subgraphs/kit/cache.py",
            "worker.settings",
            "subgraphs never import the gateway, the CLI or the worker",
        ),
        ("worker/settings.py", "strawberry", FRAMEWORK_FREE),
        # A domain's service and repository, by the wildcards; GDPR's other modules, by name.
        ("subgraphs/admin/deliveries/repository.py", "starlette.requests", FRAMEWORK_FREE),
        ("subgraphs/admin/gdpr/redaction.py", "strawberry", FRAMEWORK_FREE),
        # Indirectly, through a GraphQL module of kit.
        ("worker/settings.py", "subgraphs.kit.graphql.context", FRAMEWORK_FREE),
        ("worker/settings.py", "subgraphs.points.schema", NO_GRAPHQL_MODULES),
        ("gateway/edge/app.py", "subgraphs.admin.schema", NO_GRAPHQL_MODULES),
        ("worker/webhooks/topics.py", "subgraphs.admin.gdpr.types", NO_GRAPHQL_MODULES),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, forbidden_import: str, contract: str
) -> None:
    project = tmp_path / "project"
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            project / package,
            ignore=shutil.ignore_patterns("__pycache__", "node_modules"),
        )
    with (project / module).open("a") as file:
        file.write(f"\nimport {forbidden_import}  # noqa\n")

    result = run_lint_imports(project)

    assert result.returncode != 0
    assert f"{contract} BROKEN" in " ".join(result.stdout.split()), result.stdout + result.stderr
