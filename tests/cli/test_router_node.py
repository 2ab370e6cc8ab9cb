"""Which Node the router needs: the range check, and what `loyalnest dev` says without it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cli.node import NodeUnavailable, check_node, minimum_version, parse_version, satisfies
from cli.stack import ROUTER_DIR, ensure_router_installed, router_node_requirement


@pytest.mark.parametrize(
    ("version", "requirement", "expected"),
    [
        ("v20.20.2", ">=20", True),
        ("v18.19.0", ">=20", False),
        ("v20.5.1", ">=20.6.0", False),
        ("v20.6.0", ">=20.6.0", True),
        ("v22.12.0", ">=22.15.0", False),
        ("v20.6.0", "^18.19.0 || >=20.6.0", True),
        ("v20.5.0", "^18.19.0 || >=20.6.0", False),
        ("v18.20.1", "^18.19.0 || >=20.6.0", True),
        ("v21.0.0", "18 || 20 || >=22", False),
        ("v20.1.0", "18 || 20 || >=22", True),
        ("v16.0.0", "^12.22.0 || ^14.16.0 || ^16.0.0 || >=17.0.0", True),
        ("v20.0.0", ">= 10", True),
        ("v20.0.0", ">=16 <20", False),
        ("v20.3.1", "~20.3", True),
        ("v20.4.0", "~20.3", False),
        ("v20.9.9", "18 - 20", True),
        ("v21.0.0", "18 - 20", False),
        ("v20.0.0", "*", True),
        ("v20.0.0", "20.x", True),
        ("v0.2.9", "^0.2.3", True),
        ("v0.3.0", "^0.2.3", False),
    ],
)
def test_a_version_satisfies_an_engines_range(
    version: str, requirement: str, expected: bool
) -> None:
    assert satisfies(parse_version(version), requirement) is expected


def test_an_unreadable_range_is_an_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match="unsupported version range"):
        satisfies((20, 0, 0), "node 20 please")


def _fake_node(directory: Path, prints: str) -> str:
    node = directory / "node"
    node.write_text(f"#!/bin/sh\necho {prints}\n")
    node.chmod(node.stat().st_mode | stat.S_IEXEC)
    return str(node)


def test_an_old_node_is_refused_with_the_version_needed(tmp_path: Path) -> None:
    with pytest.raises(NodeUnavailable) as refused:
        check_node(">=20", _fake_node(tmp_path, "v18.19.0"))

    assert str(refused.value) == "the router needs Node >=20 (found v18.19.0)"


def test_a_new_enough_node_passes(tmp_path: Path) -> None:
    assert check_node(">=20.6.0", _fake_node(tmp_path, "v20.20.2")) == "v20.20.2"


def test_dev_says_which_node_it_needs_when_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, no npm

    with pytest.raises(NodeUnavailable, match=r"the router needs Node >=\S+ \(no `node` found"):
        ensure_router_installed()


def test_dev_says_which_node_it_needs_when_it_is_too_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_node(tmp_path, "v18.19.0")
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(NodeUnavailable) as refused:
        ensure_router_installed()

    assert str(refused.value) == (
        f"the router needs Node {router_node_requirement()} (found v18.19.0)"
    )


def test_every_locked_package_runs_on_the_oldest_node_the_router_accepts() -> None:
    """What keeps `npm ci` free of EBADENGINE warnings on every Node the router claims."""
    oldest = minimum_version(router_node_requirement())
    lock = json.loads((ROUTER_DIR / "package-lock.json").read_text())

    too_new = {
        path.removeprefix("node_modules/"): info["engines"]["node"]
        for path, info in lock["packages"].items()
        if path
        and isinstance(info.get("engines"), dict)
        and "node" in info["engines"]
        and not satisfies(oldest, info["engines"]["node"])
    }

    assert oldest >= (20, 0, 0)
    assert too_new == {}
