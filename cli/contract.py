"""The public API contract: the schema as last released (``schema/released/``), what changed
since, and whether ``CHANGELOG.md`` owns up to every breaking change.

The API schema compared is the one the router serves: the supergraph without federation's
``join__``/``link__`` machinery and without ``@inaccessible`` parts, as printed by the
composition library the router uses (``compose.mjs --public``). graphql-core's
``find_breaking_changes`` / ``find_dangerous_changes`` classify the differences.

Rules (``contract_report``):

- The top section of ``CHANGELOG.md`` is ``## [X.Y.Z] - <date or "unreleased">`` and X.Y.Z is
  greater than ``schema/released/VERSION``; with breaking changes it is a major bump (a minor
  one while the released version is 0.x, as semver allows before 1.0).
- Every breaking change's schema coordinate (``Customer.email``, ``Query.customers(first:)``,
  ``Enum.VALUE``, ``Type``) appears in backticks under ``### Breaking`` in that section: the
  section is the integrators' migration guide, so "recorded" means they can find it there.
- Dangerous changes (a new enum value, a changed default) are warnings, never failures.
- Every shipped persisted operation (``schema/operations/``) is valid against the current API
  schema: tools call them by id, so a change that invalidates one breaks them whatever the
  CHANGELOG says.
- Every operation released (``schema/released/operations.json``) is still in the manifest
  under its id, or its name is in backticks under ``### Breaking``: an operation's id is the
  hash of its text, so editing or deleting one makes the router refuse the id tools saved.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    BreakingChangeType,
    DangerousChangeType,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    parse,
    validate,
)
from rich.console import Console

from cli.compose import PersistedOperation, persisted_operations
from cli.stack import (
    OPERATIONS_DIR,
    REPO_ROOT,
    ROUTER_DIR,
    SUPERGRAPH_FILE,
    ensure_router_installed,
)

RELEASED_DIR = REPO_ROOT / "schema" / "released"
RELEASED_SCHEMA = RELEASED_DIR / "api.graphql"
RELEASED_VERSION = RELEASED_DIR / "VERSION"
RELEASED_OPERATIONS = RELEASED_DIR / "operations.json"
CHANGELOG = REPO_ROOT / "CHANGELOG.md"

Version = tuple[int, int, int]

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?P<rest>.*)$")
_NAME = r"[_A-Za-z][_0-9A-Za-z]*"
# Type.field, Type.field(arg:), @directive, @directive(arg:): the message's first such token.
_MEMBER = re.compile(rf"@{_NAME}(?:\({_NAME}:\))?|{_NAME}\.{_NAME}(?:\({_NAME}:\))?")
# graphql-core 3.2 words this "<VALUE> was removed from enum type <Enum>." (no coordinate).
_ENUM_VALUE_REMOVED = re.compile(rf"({_NAME}) was removed from enum type ({_NAME})")
_FIRST_NAME = re.compile(rf"(?:Standard scalar )?({_NAME})")


class ContractError(RuntimeError):
    """The inputs of the check are unusable (not: the check found problems)."""


@dataclass(frozen=True)
class SchemaChange:
    coordinate: str
    description: str


@dataclass(frozen=True)
class ChangelogRelease:
    heading: str
    version: Version | None
    breaking_text: str


@dataclass(frozen=True)
class ContractReport:
    released_version: Version
    release: ChangelogRelease
    breaking: list[SchemaChange]
    dangerous: list[SchemaChange]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_version(text: str) -> Version | None:
    match = _VERSION.fullmatch(text.strip().removeprefix("v"))
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def public_schema_sdl(supergraph: Path = SUPERGRAPH_FILE) -> str:
    """The API schema ``supergraph`` serves, as the router's composition library prints it."""
    ensure_router_installed()
    result = subprocess.run(
        ["node", str(ROUTER_DIR / "compose.mjs"), "--public", str(supergraph)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ContractError(result.stderr.strip() or result.stdout.strip())
    return result.stdout


def change_coordinate(kind: BreakingChangeType | DangerousChangeType, description: str) -> str:
    """The schema coordinate a change is about, read from graphql-core's message."""
    if kind is BreakingChangeType.VALUE_REMOVED_FROM_ENUM:
        old_style = _ENUM_VALUE_REMOVED.search(description)
        if old_style:
            return f"{old_style.group(2)}.{old_style.group(1)}"
    if kind in (
        BreakingChangeType.TYPE_REMOVED_FROM_UNION,
        DangerousChangeType.TYPE_ADDED_TO_UNION,
    ):
        union = re.search(rf"to union type ({_NAME})|from union type ({_NAME})", description)
        if union:
            return union.group(1) or union.group(2)
    if kind is DangerousChangeType.IMPLEMENTED_INTERFACE_ADDED:
        implementer = re.search(rf"implemented by ({_NAME})", description)
        if implementer:
            return implementer.group(1)
    member = _MEMBER.search(description)
    if member:
        return member.group(0)
    # Type-level changes start with the type: "Money was removed.", "X no longer implements..."
    named = _FIRST_NAME.match(description)
    if named is None:  # pragma: no cover - graphql-core always names what changed
        raise ContractError(f"no schema coordinate in {description!r}")
    return named.group(1)


def schema_changes(old_sdl: str, new_sdl: str) -> tuple[list[SchemaChange], list[SchemaChange]]:
    """(breaking, dangerous) changes from ``old_sdl`` to ``new_sdl``, in graphql-core's order."""
    old, new = build_schema(old_sdl), build_schema(new_sdl)
    breaking = [
        SchemaChange(change_coordinate(change.type, change.description), change.description)
        for change in find_breaking_changes(old, new)
    ]
    dangerous = [
        SchemaChange(change_coordinate(change.type, change.description), change.description)
        for change in find_dangerous_changes(old, new)
    ]
    return breaking, dangerous


def operation_problems(api_sdl: str, operations: list[PersistedOperation]) -> list[str]:
    """What makes each operation invalid against the API schema ``api_sdl`` (none: valid)."""
    schema = build_schema(api_sdl)
    return [
        f"persisted operation {operation.name} is invalid: {error.message}"
        for operation in operations
        for error in validate(schema, parse(operation.body))
    ]


def released_operations_text(operations: list[PersistedOperation]) -> str:
    """What ``schema/released/operations.json`` holds: each released operation's name and id."""
    listed = [{"name": operation.name, "id": operation.id} for operation in operations]
    return json.dumps({"operations": listed}, indent=2) + "\n"


def read_released_operations(text: str) -> dict[str, str]:
    """Released operation ids to their names."""
    try:
        return {entry["id"]: entry["name"] for entry in json.loads(text)["operations"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ContractError(
            f"{RELEASED_OPERATIONS.name}: expected {{'operations': [{{name, id}}]}}"
        ) from exc


def withdrawn_operation_problems(
    released: dict[str, str], current: list[PersistedOperation], breaking_text: str
) -> list[str]:
    """Released operations whose id the router no longer knows, unless the CHANGELOG says so."""
    shipped = {operation.id for operation in current}
    return [
        f"persisted operation {name} (id {operation_id[:12]}...) was changed or removed, so the "
        f"router now refuses that id (PERSISTED_QUERY_NOT_IN_LIST): name `{name}` under "
        "### Breaking with what tools should call instead"
        for operation_id, name in released.items()
        if operation_id not in shipped and not recorded(name, breaking_text)
    ]


def top_release(changelog: str) -> ChangelogRelease:
    """The first ``## [...]`` section of a Keep a Changelog file, and its ``### Breaking`` text."""
    lines = changelog.splitlines()
    for start, line in enumerate(lines):
        heading = _RELEASE_HEADING.match(line)
        if heading is None:
            continue
        body: list[str] = []
        for following in lines[start + 1 :]:
            if following.startswith("## "):
                break
            body.append(following)
        breaking: list[str] = []
        inside = False
        for body_line in body:
            if body_line.startswith("### "):
                inside = body_line.strip().lower() == "### breaking"
            elif inside:
                breaking.append(body_line)
        return ChangelogRelease(
            heading=line.strip(),
            version=parse_version(heading.group("version")),
            breaking_text="\n".join(breaking),
        )
    raise ContractError("CHANGELOG.md has no release section (`## [X.Y.Z] - date`)")


def recorded(coordinate: str, breaking_text: str) -> bool:
    return f"`{coordinate}`" in breaking_text


def contract_report(
    *,
    released_sdl: str,
    released_version: str,
    current_sdl: str,
    changelog: str,
    operations: list[PersistedOperation] | None = None,
    released_operations: dict[str, str] | None = None,
) -> ContractReport:
    released = parse_version(released_version)
    if released is None:
        raise ContractError(f"released version {released_version.strip()!r} is not X.Y.Z")
    release = top_release(changelog)
    breaking, dangerous = schema_changes(released_sdl, current_sdl)
    problems: list[str] = []
    if release.version is None:
        problems.append(
            f"the top CHANGELOG section {release.heading!r} names no version: start it with "
            f"`## [X.Y.Z] - unreleased`, X.Y.Z greater than {format_version(released)}"
        )
    elif release.version <= released:
        problems.append(
            f"the top CHANGELOG version {format_version(release.version)} is not greater than "
            f"the released {format_version(released)}: add a section for the next version"
        )
    elif breaking and not _is_breaking_bump(released, release.version):
        problems.append(
            f"breaking changes need a major version bump: {format_version(release.version)} "
            f"after {format_version(released)}"
        )
    seen: set[str] = set()
    for change in breaking:
        if change.coordinate in seen or recorded(change.coordinate, release.breaking_text):
            continue
        seen.add(change.coordinate)
        problems.append(
            f"breaking change not in CHANGELOG ### Breaking: `{change.coordinate}`: "
            f"{change.description}"
        )
    problems += operation_problems(current_sdl, operations or [])
    problems += withdrawn_operation_problems(
        released_operations or {}, operations or [], release.breaking_text
    )
    return ContractReport(
        released_version=released,
        release=release,
        breaking=breaking,
        dangerous=dangerous,
        problems=problems,
    )


def _is_breaking_bump(released: Version, candidate: Version) -> bool:
    if released[0] == 0:
        # Before 1.0 semver lets a minor bump break; 1.0.0 itself is a major bump.
        return candidate[0] > 0 or candidate[1] > released[1]
    return candidate[0] > released[0]


def check_contract(
    *,
    supergraph: Path = SUPERGRAPH_FILE,
    released_dir: Path = RELEASED_DIR,
    changelog: Path = CHANGELOG,
    operations_dir: Path = OPERATIONS_DIR,
) -> ContractReport:
    return contract_report(
        released_sdl=(released_dir / RELEASED_SCHEMA.name).read_text(),
        released_version=(released_dir / RELEASED_VERSION.name).read_text(),
        current_sdl=public_schema_sdl(supergraph),
        changelog=changelog.read_text(),
        operations=persisted_operations(operations_dir),
        released_operations=read_released_operations(
            (released_dir / RELEASED_OPERATIONS.name).read_text()
        ),
    )


def release_schema(
    *,
    supergraph: Path = SUPERGRAPH_FILE,
    released_dir: Path = RELEASED_DIR,
    changelog: Path = CHANGELOG,
    operations_dir: Path = OPERATIONS_DIR,
) -> Version:
    """Make the current API schema the released one, at the top CHANGELOG section's version."""
    version = top_release(changelog.read_text()).version
    if version is None:
        raise ContractError("the top CHANGELOG section names no version to release")
    released_dir.mkdir(parents=True, exist_ok=True)
    (released_dir / RELEASED_SCHEMA.name).write_text(public_schema_sdl(supergraph))
    (released_dir / RELEASED_VERSION.name).write_text(format_version(version) + "\n")
    (released_dir / RELEASED_OPERATIONS.name).write_text(
        released_operations_text(persisted_operations(operations_dir))
    )
    return version


def run_contract_command(
    console: Console,
    *,
    release: bool,
    supergraph: Path | None = None,
    released_dir: Path | None = None,
    changelog: Path | None = None,
) -> int:
    """``loyalnest compose --check-breaking`` / ``--release``; returns the exit code
    (0 passed, 1 the contract is broken, 2 the inputs are unusable)."""
    paths = {
        "supergraph": supergraph or SUPERGRAPH_FILE,
        "released_dir": released_dir or RELEASED_DIR,
        "changelog": changelog or CHANGELOG,
    }
    try:
        if release:
            version = release_schema(**paths)
            console.print(f"released API {format_version(version)} into {paths['released_dir']}")
            return 0
        report = check_contract(**paths)
    except (ContractError, OSError) as exc:
        console.print(f"contract check failed: {exc}", style="red", markup=False, soft_wrap=True)
        return 2
    for change in report.dangerous:
        console.print(
            f"dangerous: {change.description}", style="yellow", markup=False, soft_wrap=True
        )
    for problem in report.problems:
        console.print(f"error: {problem}", style="red", markup=False, soft_wrap=True)
    console.print(
        f"{len(report.breaking)} breaking and {len(report.dangerous)} dangerous change(s) since "
        f"{format_version(report.released_version)}; CHANGELOG top section: "
        f"{report.release.heading}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return 0 if report.ok else 1
