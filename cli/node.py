"""Which Node the router needs, and whether this machine has it.

The requirement is the router's ``engines.node`` (gateway/router/package.json), written as an
npm semver range. This module reads the subset of that syntax that ``engines`` fields use:
alternatives (``||``), comparators (``>= > <= < =``), caret and tilde ranges, x-ranges
(``20``, ``20.x``, ``*``) and hyphen ranges (``18 - 20``). Pre-release tags are ignored: Node
releases have none.
"""

from __future__ import annotations

import re
import shutil
import subprocess

Version = tuple[int, int, int]

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?")
_PART = r"(\d+|[xX*])"
_COMPARATOR = re.compile(
    rf"(<=|>=|<|>|=|\^|~>?)?\s*v?{_PART}(?:\.{_PART})?(?:\.{_PART})?(?:[-+][0-9A-Za-z.+-]*)?"
)
_HYPHEN = re.compile(r"^(\S+)\s+-\s+(\S+)$")

# A comparator normalised to one of >=, <, <= and == on a full version.
Comparator = tuple[str, Version]


class NodeUnavailable(RuntimeError):
    """Node is missing, or older than the router needs."""


def parse_version(text: str) -> Version:
    """``v20.20.2`` (what ``node --version`` prints) or ``20.20.2``."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _number(part: str | None) -> int | None:
    return None if part is None or part in "xX*" else int(part)


def _comparators(
    op: str, major: int | None, minor: int | None, patch: int | None
) -> list[Comparator]:
    if major is None:
        # "*", "x", ">=*": any version; "<*" matches nothing.
        return [("<", (0, 0, 0))] if op in ("<", ">") else []
    low = (major, minor or 0, patch or 0)
    if minor is None:
        next_up = (major + 1, 0, 0)
    elif patch is None:
        next_up = (major, minor + 1, 0)
    else:
        next_up = (major, minor, patch + 1)
    exact = minor is not None and patch is not None
    if op in ("", "="):
        return [("==", low)] if exact else [(">=", low), ("<", next_up)]
    if op == ">=":
        return [(">=", low)]
    if op == ">":
        return [(">=", next_up)]
    if op == "<":
        return [("<", low)]
    if op == "<=":
        return [("<=", low)] if exact else [("<", next_up)]
    if op == "^":
        if major > 0 or minor is None:
            upper = (major + 1, 0, 0)
        elif minor > 0 or patch is None:
            upper = (0, minor + 1, 0)
        else:
            upper = (0, 0, (patch or 0) + 1)
        return [(">=", low), ("<", upper)]
    # "~" / "~>": patch updates when a minor is given, else minor updates.
    upper = (major, minor + 1, 0) if minor is not None else (major + 1, 0, 0)
    return [(">=", low), ("<", upper)]


def _parse_range(text: str) -> list[Comparator]:
    text = text.strip()
    hyphen = _HYPHEN.match(text)
    if hyphen:
        return _parse_range(f">={hyphen[1]}") + _parse_range(f"<={hyphen[2]}")
    comparators: list[Comparator] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _COMPARATOR.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"unsupported version range: {text!r}")
        op, major, minor, patch = match.groups()
        comparators += _comparators(op or "", _number(major), _number(minor), _number(patch))
        position = match.end()
    return comparators


def _holds(version: Version, comparator: Comparator) -> bool:
    op, bound = comparator
    if op == ">=":
        return version >= bound
    if op == "<":
        return version < bound
    if op == "<=":
        return version <= bound
    return version == bound


def satisfies(version: Version, requirement: str) -> bool:
    """Whether ``version`` is in the npm semver range ``requirement``."""
    return any(
        all(_holds(version, comparator) for comparator in _parse_range(alternative))
        for alternative in requirement.split("||")
    )


def minimum_version(requirement: str) -> Version:
    """The lowest version the range allows (its lower bound; 0.0.0 when it has none)."""
    lowest: Version | None = None
    for alternative in requirement.split("||"):
        bounds = [bound for op, bound in _parse_range(alternative) if op in (">=", "==")]
        low = max(bounds, default=(0, 0, 0))
        lowest = low if lowest is None else min(lowest, low)
    assert lowest is not None  # str.split always yields at least one alternative
    return lowest


def check_node(requirement: str, node: str | None = None) -> str:
    """The version of ``node`` (default: the one on PATH), or :class:`NodeUnavailable` saying
    which Node is needed when it is missing or does not satisfy ``requirement``."""
    executable = node or shutil.which("node")
    if executable is None:
        raise NodeUnavailable(f"the router needs Node {requirement} (no `node` found on PATH)")
    completed = subprocess.run(  # noqa: S603 - our own fixed arguments
        [executable, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    found = completed.stdout.strip() or completed.stderr.strip() or "no version"
    try:
        version = parse_version(found)
    except ValueError:
        version = None
    if completed.returncode != 0 or version is None or not satisfies(version, requirement):
        raise NodeUnavailable(f"the router needs Node {requirement} (found {found})")
    return found
