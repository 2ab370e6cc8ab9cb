"""The breaking-change check: the current API against schema/released/, CHANGELOG.md as the
record of what broke. The CLI runs on temporary copies, exactly as CI runs it on the repo."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import BreakingChangeType, DangerousChangeType

from cli.compose import PersistedOperation, persisted_operations
from cli.contract import (
    CHANGELOG,
    RELEASED_DIR,
    change_coordinate,
    check_contract,
    contract_report,
    read_released_operations,
    schema_changes,
    top_release,
)
from cli.stack import REPO_ROOT, SUPERGRAPH_FILE

# Both in the released schema and untouched since: removing one is a new break. CustomersSearch
# reads Customer.locale; no shipped operation reads Customer.rfmSegment.
SEGMENT_FIELD = re.compile(
    r'  """\n  The customer\'s RFM segment[^\n]*\n  """\n  rfmSegment: [^\n]*\n'
)
LOCALE_FIELD = re.compile(r'  """\n  Preferred language[^\n]*\n  """\n  locale: [^\n]*\n')


def test_the_committed_schema_keeps_the_contract() -> None:
    report = check_contract()

    assert report.problems == []
    assert report.breaking, "the 1.0.0 section lists breaks: the check must have found them"


def run_check(
    supergraph: Path, released: Path, changelog: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "compose",
            "--check-breaking",
            "--supergraph",
            str(supergraph),
            "--released",
            str(released),
            "--changelog",
            str(changelog),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def contract_copy(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A supergraph without Customer.rfmSegment, the released contract and the CHANGELOG."""
    text = SUPERGRAPH_FILE.read_text()
    assert len(SEGMENT_FIELD.findall(text)) == 1
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(SEGMENT_FIELD.sub("", text))
    released = tmp_path / "released"
    shutil.copytree(RELEASED_DIR, released)
    changelog = tmp_path / "CHANGELOG.md"
    shutil.copy(CHANGELOG, changelog)
    return supergraph, released, changelog


def test_a_removed_field_fails_until_the_changelog_records_it(
    contract_copy: tuple[Path, Path, Path],
) -> None:
    supergraph, released, changelog = contract_copy

    unrecorded = run_check(supergraph, released, changelog)
    text = changelog.read_text()
    changelog.write_text(
        text.replace(
            "### Breaking\n\n",
            "### Breaking\n\n- `Customer.rfmSegment` is gone: read the analytics segments.\n",
            1,
        )
    )
    recorded = run_check(supergraph, released, changelog)

    assert unrecorded.returncode == 1, unrecorded.stdout + unrecorded.stderr
    assert "`Customer.rfmSegment`: Field Customer.rfmSegment was removed." in unrecorded.stderr
    # Only the new break is reported: the others are in the 1.0.0 section already.
    assert unrecorded.stderr.count("breaking change not in CHANGELOG") == 1
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr


def test_a_removal_a_shipped_operation_reads_fails_even_when_recorded(
    contract_copy: tuple[Path, Path, Path],
) -> None:
    _, released, changelog = contract_copy
    supergraph = released.parent / "without-locale.graphql"
    supergraph.write_text(LOCALE_FIELD.sub("", SUPERGRAPH_FILE.read_text()))
    changelog.write_text(
        changelog.read_text().replace(
            "### Breaking\n\n", "### Breaking\n\n- `Customer.locale` is gone.\n", 1
        )
    )

    result = run_check(supergraph, released, changelog)

    assert result.returncode == 1
    assert "breaking change not in CHANGELOG" not in result.stderr
    assert (
        "persisted operation CustomersSearch is invalid: "
        "Cannot query field 'locale' on type 'Customer'."
    ) in result.stderr


def test_a_changelog_without_a_version_bump_fails(contract_copy: tuple[Path, Path, Path]) -> None:
    _, released, changelog = contract_copy
    text = changelog.read_text()
    released_again = text.replace("## [1.0.0] - unreleased", "## [0.1.0] - unreleased", 1)
    changelog.write_text(released_again)
    same_version = run_check(SUPERGRAPH_FILE, released, changelog)
    changelog.write_text(text.replace("## [1.0.0] - unreleased", "## [Unreleased]", 1))
    no_version = run_check(SUPERGRAPH_FILE, released, changelog)

    assert same_version.returncode == 1
    assert "0.1.0 is not greater than the released 0.1.0" in same_version.stderr
    assert no_version.returncode == 1
    assert "'## [Unreleased]' names no version" in no_version.stderr


def test_unusable_inputs_are_exit_code_2(contract_copy: tuple[Path, Path, Path]) -> None:
    supergraph, released, changelog = contract_copy
    (released / "VERSION").unlink()

    result = run_check(supergraph, released, changelog)

    assert result.returncode == 2
    assert "VERSION" in result.stderr


def test_release_makes_the_current_schema_the_baseline(
    contract_copy: tuple[Path, Path, Path],
) -> None:
    supergraph, released, changelog = contract_copy
    base = [sys.executable, "-m", "cli.main", "compose", "--supergraph", str(supergraph)]
    paths = ["--released", str(released), "--changelog", str(changelog)]

    subprocess.run([*base, "--release", *paths], cwd=REPO_ROOT, check=True, capture_output=True)
    after_release = run_check(supergraph, released, changelog)

    assert (released / "VERSION").read_text() == "1.0.0\n"
    assert read_released_operations((released / "operations.json").read_text()) == {
        operation.id: operation.name for operation in persisted_operations()
    }
    # Released and current are now the same schema, so only the version rule is left.
    assert after_release.returncode == 1
    assert "1.0.0 is not greater than the released 1.0.0" in after_release.stderr
    assert "breaking change not in CHANGELOG" not in after_release.stderr


OLD = """
type Query { shop: Shop, search(term: String, limit: Int): [Result!] }
type Shop implements Named { name: String!, plan: Plan!, owner: String }
interface Named { name: String! }
union Result = Shop | Other
type Other { id: ID }
type Gone { id: ID }
enum Plan { FREE PRO }
input ShopInput { name: String }
"""
NEW = """
type Query { shop: Shop, search(term: Int, extra: String!): [Result!] }
type Shop { name: String, plan: Plan! }
union Result = Other
type Other { id: ID }
enum Plan { FREE ENTERPRISE }
input ShopInput { name: String, code: String! }
"""


def test_every_kind_of_break_is_named_by_its_coordinate() -> None:
    breaking, dangerous = schema_changes(OLD, NEW)

    assert sorted({change.coordinate for change in breaking}) == [
        "Gone",  # type removed
        "Named",  # interface removed
        "Plan.PRO",  # enum value removed
        "Query.search(extra:)",  # required argument added
        "Query.search(limit:)",  # argument removed
        "Query.search(term:)",  # argument changed type
        "Result",  # a member left the union
        "Shop",  # no longer implements Named
        "Shop.name",  # became nullable
        "Shop.owner",  # field removed
        "ShopInput.code",  # required input field added
    ]
    assert {change.coordinate for change in dangerous} == {"Plan.ENTERPRISE"}


@pytest.mark.parametrize(
    ("kind", "description", "coordinate"),
    [
        # graphql-core 3.2's wording of the same changes.
        (
            BreakingChangeType.VALUE_REMOVED_FROM_ENUM,
            "PRO was removed from enum type Plan.",
            "Plan.PRO",
        ),
        (BreakingChangeType.FIELD_REMOVED, "Shop.owner was removed.", "Shop.owner"),
        (DangerousChangeType.TYPE_ADDED_TO_UNION, "Shop was added to union type Result.", "Result"),
        (
            DangerousChangeType.IMPLEMENTED_INTERFACE_ADDED,
            "Named added to interfaces implemented by Shop.",
            "Shop",
        ),
        (
            BreakingChangeType.DIRECTIVE_ARG_REMOVED,
            "Argument @auth(role:) was removed.",
            "@auth(role:)",
        ),
    ],
)
def test_coordinates_are_read_from_either_wording(
    kind: BreakingChangeType | DangerousChangeType, description: str, coordinate: str
) -> None:
    assert change_coordinate(kind, description) == coordinate


def _changelog(version: str, breaking: str = "") -> str:
    return f"# Changelog\n\n## [{version}] - unreleased\n\n### Breaking\n\n{breaking}\n"


def test_breaking_changes_need_a_major_bump() -> None:
    def problems(released: str, version: str) -> list[str]:
        return contract_report(
            released_sdl=OLD,
            released_version=released,
            current_sdl=OLD.replace("owner: String", ""),
            changelog=_changelog(version, "- `Shop.owner` removed"),
        ).problems

    assert problems("1.4.0", "1.5.0") == [
        "breaking changes need a major version bump: 1.5.0 after 1.4.0"
    ]
    assert problems("1.4.0", "2.0.0") == []
    assert problems("0.3.0", "0.4.0") == []  # before 1.0 a minor bump may break
    assert problems("0.3.0", "0.3.1") != []


def test_a_coordinate_counts_only_in_backticks_under_breaking() -> None:
    changelog = (
        "## [2.0.0] - unreleased\n\n### Changed\n\n- `Shop.owner` removed\n\n"
        "### Breaking\n\n- Shop.owner removed; `Shop.ownerName` too\n\n## [1.0.0] - 2026-01-01\n\n"
        "### Breaking\n\n- `Shop.owner`\n"
    )
    release = top_release(changelog)
    report = contract_report(
        released_sdl=OLD,
        released_version="1.0.0",
        current_sdl=OLD.replace("owner: String", ""),
        changelog=changelog,
    )

    assert release.version == (2, 0, 0)
    assert "`Shop.owner`" not in release.breaking_text
    assert [problem.split(": ", 1)[1] for problem in report.problems] == [
        "`Shop.owner`: Field Shop.owner was removed."
    ]


def test_a_released_operation_whose_id_is_gone_fails_until_recorded() -> None:
    body = "query ShopName { shop { name } }\n"
    edited = PersistedOperation(id="e" * 64, name="ShopName", type="query", body=body)
    kept = PersistedOperation(id="k" * 64, name="ShopPlan", type="query", body="{ shop { plan } }")
    released = {"0" * 64: "ShopName", "k" * 64: "ShopPlan"}

    def problems(breaking: str) -> list[str]:
        return contract_report(
            released_sdl=OLD,
            released_version="1.0.0",
            current_sdl=OLD,
            changelog=_changelog("1.1.0", breaking),
            operations=[edited, kept],
            released_operations=released,
        ).problems

    [unrecorded] = problems("")
    assert unrecorded.startswith("persisted operation ShopName (id 000000000000...) was changed")
    assert problems("- `ShopName` has a new id: call it instead.") == []
