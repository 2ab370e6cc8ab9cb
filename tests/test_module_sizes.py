"""No module over 400 lines unless the first line of its docstring says why it must be long
(docs/architecture.md): a long module is either split along what it does, or says in its
first line what keeps it whole, so a reader knows before scrolling."""

from __future__ import annotations

import ast
import subprocess

from tests.conftest import REPO_ROOT

MAX_LINES = 400


def _tracked_python_modules() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return listed.stdout.split()


def _says_why_it_is_long(source: str) -> bool:
    docstring = ast.get_docstring(ast.parse(source)) or ""
    first_line = docstring.splitlines()[0] if docstring else ""
    return "long" in first_line.lower()


def test_every_module_over_400_lines_says_in_its_first_line_why() -> None:
    unexplained = []
    for path in _tracked_python_modules():
        source = (REPO_ROOT / path).read_text()
        lines = source.count("\n")
        if lines > MAX_LINES and not _says_why_it_is_long(source):
            unexplained.append(f"{path} ({lines} lines)")
    assert not unexplained, "split these, or say why they are long: " + ", ".join(unexplained)


def test_a_docstring_that_does_not_say_why_does_not_pass() -> None:
    assert not _says_why_it_is_long('"""Orders earn points.\n\nLong, because..."""\n')
    assert _says_why_it_is_long('"""Long because every rule of an award is kept here."""\n')
    assert not _says_why_it_is_long("x = 1\n")
