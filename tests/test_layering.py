"""The layering in DESIGN.md ("what may import what"), enforced by import-linter's contracts in
pyproject.toml: that they pass on our code, and that they would catch a violation."""

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

EXPECTED_CONTRACTS = {
    "db imports nothing of the project",
    "kit imports only db",
    "subgraphs never import each other",
    "subgraphs never import the gateway",
    "services and repositories stay free of web frameworks",
    "gateway uses only the subgraphs' services and jobs, never their GraphQL modules",
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
    assert set(importlinter_config()["root_packages"]) == {"db", "subgraphs", "gateway"}


def test_the_code_keeps_every_contract() -> None:
    result = run_lint_imports(REPO_ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(EXPECTED_CONTRACTS)} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract"),
    [
        ("db/session.py", "subgraphs.kit.cache", "db imports nothing of the project"),
        ("subgraphs/kit/cache.py", "subgraphs.points.service", "kit imports only db"),
        (
            "subgraphs/points/service/ledger.py",
            "subgraphs.referrals.service",
            "subgraphs never import each other",
        ),
        ("subgraphs/admin/service.py", "gateway.stack", "subgraphs never import the gateway"),
        (
            "subgraphs/points/service/ledger.py",
            "strawberry",
            "services and repositories stay free of web frameworks",
        ),
        (
            "gateway/seed.py",
            "subgraphs.points.types.customer",
            "gateway uses only the subgraphs' services and jobs, never their GraphQL modules",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, forbidden_import: str, contract: str
) -> None:
    project = tmp_path / "project"
    for package in ("db", "subgraphs", "gateway"):
        shutil.copytree(
            REPO_ROOT / package,
            project / package,
            ignore=shutil.ignore_patterns("__pycache__", "node_modules"),
        )
    with (project / module).open("a") as file:
        file.write(f"\nimport {forbidden_import}  # noqa\n")

    result = run_lint_imports(project)

    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout, result.stdout + result.stderr
