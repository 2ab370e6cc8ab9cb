"""Long because it rebuilds the image's file set (COPY, WORKDIR, .dockerignore) before probing it.

The production image (Dockerfile) runs every service compose.yaml starts from it.

No Docker is needed: the image's file set is rebuilt from the Dockerfile's WORKDIR and COPY
lines (with .dockerignore applied to the build context) in a temporary directory, and
tests/image_probe.py imports each service's entry points from that copy alone, in a Python
that sees only the copy, the standard library and the venv's site-packages (no ``.pth``
files, so not the editable install of this repository). What is checked is found, not
listed: the services and their commands in compose.yaml, the ENTRYPOINT's script in
pyproject.toml, the apps `loyalnest serve` hands uvicorn (cli/stack.py), the jobs modules on
disk, the Alembic revisions.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
PYPROJECT = REPO_ROOT / "pyproject.toml"
PROBE = Path(__file__).with_name("image_probe.py")


# --- .dockerignore ----------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax: ``*`` and ``?`` stay inside one path segment, ``**`` spans
    any number of them."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out += "[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]"
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out, i = out + re.escape(pattern[i + 1]), i + 2
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@dataclass(frozen=True)
class DockerIgnore:
    rules: tuple[tuple[bool, re.Pattern[str]], ...]  # (re-includes, pattern)

    @classmethod
    def parse(cls, text: str) -> DockerIgnore:
        rules = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
            rules.append((negated, _pattern_regex(pattern)))
        return cls(tuple(rules))

    def excludes(self, path: str) -> bool:
        """Whether ``path`` (relative to the context, with /) is left out of the context: the
        last rule matching it or one of its parent directories decides."""
        parts = path.split("/")
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        excluded = False
        for negated, regex in self.rules:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                excluded = not negated
        return excluded

    def context_files(self, root: Path) -> list[str]:
        """Every file of the build context, relative to ``root``."""
        may_reinclude = any(negated for negated, _ in self.rules)
        files = []
        for directory, subdirectories, names in os.walk(root):
            base = Path(directory).relative_to(root).as_posix()
            prefix = "" if base == "." else f"{base}/"
            if not may_reinclude:
                subdirectories[:] = [d for d in subdirectories if not self.excludes(prefix + d)]
            files += [prefix + name for name in names if not self.excludes(prefix + name)]
        return sorted(files)


# --- Dockerfile ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    destination: str  # absolute, in the image


@dataclass
class Image:
    workdir: str = "/"
    copies: list[Copy] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def _instructions(text: str) -> list[tuple[str, str]]:
    instructions, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def _arguments(text: str) -> list[str]:
    if text.startswith("["):
        parsed: list[str] = json.loads(text)
        return parsed
    return shlex.split(text)


def parse_dockerfile(text: str) -> Image:
    """WORKDIR, local COPY/ADD, ENTRYPOINT and ENV of the Dockerfile's last stage."""
    image = Image()
    for keyword, arguments in _instructions(text):
        if keyword == "FROM":
            image = Image()
        elif keyword == "WORKDIR":
            image.workdir = posixpath.normpath(posixpath.join(image.workdir, arguments))
        elif keyword in ("COPY", "ADD"):
            words = _arguments(arguments)
            flags = [word for word in words if word.startswith("--")]
            if any(flag.startswith("--from") for flag in flags):
                continue  # from another stage or image, not from the context
            *sources, destination = [word for word in words if not word.startswith("--")]
            absolute = posixpath.normpath(posixpath.join(image.workdir, destination))
            if destination.endswith("/") and absolute != "/":
                absolute += "/"
            image.copies.append(Copy(tuple(sources), absolute))
        elif keyword == "ENTRYPOINT":
            image.entrypoint = _arguments(arguments)
        elif keyword == "ENV":
            words = shlex.split(arguments)
            if words and "=" not in words[0]:  # the old form: ENV KEY VALUE...
                image.env[words[0]] = " ".join(words[1:])
                continue
            image.env.update(word.partition("=")[::2] for word in words)
    return image


def build_file_set(image: Image, context: Path, ignore: DockerIgnore, root: Path) -> Path:
    """Copy what the image's COPY lines take from ``context`` to ``root`` (standing for the
    image's /); returns the image's working directory under ``root``."""
    files = ignore.context_files(context)
    for copy in image.copies:
        matched: list[tuple[str, str]] = []  # (context file, path relative to the source)
        for source in copy.sources:
            pattern = posixpath.normpath(source).lstrip("/")
            if pattern == ".":
                hits = [(file, file) for file in files]
            else:
                hits = [
                    (file, posixpath.relpath(file, root_match))
                    for file in files
                    for root_match in _source_roots(file, pattern)
                ]
            assert hits, f"COPY {source}: not in the build context (see .dockerignore)"
            matched += hits
        into_directory = (
            copy.destination.endswith("/")
            or len(copy.sources) > 1
            or any(relative != "." for _, relative in matched)
        )
        for file, relative in matched:
            if not into_directory:
                target = copy.destination
            elif relative == ".":
                target = posixpath.join(copy.destination, posixpath.basename(file))
            else:
                target = posixpath.join(copy.destination, relative)
            destination = root / target.lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(context / file, destination)
    return root / image.workdir.lstrip("/")


def _source_roots(file: str, pattern: str) -> list[str]:
    """The paths matching a COPY source that ``file`` is (a file source) or lies under (a
    directory source)."""
    parts = file.split("/")
    return [
        "/".join(parts[:n])
        for n in range(1, len(parts) + 1)
        if fnmatch.fnmatchcase("/".join(parts[:n]), pattern)
    ]


# --- what the image is for ------------------------------------------------------------------------


def pyproject() -> dict[str, Any]:
    with PYPROJECT.open("rb") as file:
        return tomllib.load(file)


def project_packages() -> list[str]:
    """Top-level packages `pip install` installs (``[tool.setuptools.packages.find]``)."""
    include = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in include})


def is_installed_module(relative: str) -> bool:
    """Whether a repository path is a module of the installed packages (include/exclude of
    ``[tool.setuptools.packages.find]``)."""
    if not relative.endswith(".py"):
        return False
    found = pyproject()["tool"]["setuptools"]["packages"]["find"]
    package = posixpath.dirname(relative).replace("/", ".")

    def matches(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(package, str(pattern)) for pattern in patterns)

    included = matches(found["include"]) and not matches(found.get("exclude", []))
    return bool(package) and included


def image_services() -> dict[str, list[str]]:
    """compose.yaml's services built from ./Dockerfile, with their commands."""
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]

    def from_this_dockerfile(service: dict[str, Any]) -> bool:
        build = service.get("build")
        if isinstance(build, str):
            return posixpath.normpath(build) == "."
        if isinstance(build, dict):
            context = posixpath.normpath(str(build.get("context", ".")))
            return context == "." and str(build.get("dockerfile", "Dockerfile")) == "Dockerfile"
        return False

    images = {s.get("image") for s in services.values() if from_this_dockerfile(s)} - {None}
    return {
        name: list(service.get("command", []))
        for name, service in services.items()
        if from_this_dockerfile(service) or service.get("image") in images
    }


def entrypoint_script(image: Image) -> str:
    """The ``[project.scripts]`` target the ENTRYPOINT runs, e.g. ``cli.main:app``."""
    scripts: dict[str, str] = pyproject()["project"]["scripts"]
    assert image.entrypoint, "the Dockerfile has no ENTRYPOINT"
    executable = posixpath.basename(image.entrypoint[0])
    assert executable in scripts, f"ENTRYPOINT {image.entrypoint} is not in [project.scripts]"
    return scripts[executable]


def site_packages() -> list[str]:
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def probe(app_dir: Path, image: Image, commands: list[list[str]]) -> dict[str, Any]:
    plan = {
        "app_dir": str(app_dir),
        "site_packages": site_packages(),
        "packages": project_packages(),
        "script": entrypoint_script(image),
        "commands": commands,
    }
    # -I: no PYTHON* variables, no script or working directory on sys.path; -S: no site, so no
    # .pth file (the editable install's finder is one) runs; -B: the copy stays as copied.
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-B", str(PROBE), json.dumps(plan)],
        cwd=app_dir,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(app_dir), **image.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return report


def foreign_modules(report: dict[str, Any], app_dir: Path) -> dict[str, list[str]]:
    """Project modules the probe imported from anywhere but the image's copy."""
    return {
        name: paths
        for name, paths in report["modules"].items()
        if not paths or not all(Path(path).is_relative_to(app_dir) for path in paths)
    }


@pytest.fixture(scope="module")
def image() -> Image:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def ignore() -> DockerIgnore:
    return DockerIgnore.parse(DOCKERIGNORE.read_text() if DOCKERIGNORE.exists() else "")


@pytest.fixture(scope="module")
def app_dir(image: Image, ignore: DockerIgnore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_file_set(image, REPO_ROOT, ignore, tmp_path_factory.mktemp("image"))


# --- tests ----------------------------------------------------------------------------------------


def test_every_service_of_compose_runs_from_the_image_alone(image: Image, app_dir: Path) -> None:
    services = image_services()
    commands = [command for command in services.values() if command]
    # The services this image is for; each is checked below by what its command runs.
    assert {command[0] for command in commands} >= {"serve", "worker", "migrate"}, services

    report = probe(app_dir, image, commands)

    assert report["errors"] == []
    assert foreign_modules(report, app_dir) == {}
    assert not [name for name in report["finders"] if "editable" in name.lower()]
    for command in commands:
        assert " ".join(command) in report["checked"], f"{command} was not checked"
    # Every subgraph the CLI knows is served by some service, and so is the edge app.
    served = {command[1] for command in commands if command[0] == "serve"}
    assert {"edge", *report["checked"]["subgraphs"]} <= served
    jobs_modules = report["checked"]["worker"]
    assert "worker.webhooks.jobs" in jobs_modules
    assert any(name.startswith("subgraphs.") for name in jobs_modules)


def test_the_image_holds_every_module_of_the_installed_packages(
    ignore: DockerIgnore, app_dir: Path
) -> None:
    """A module no entry point imports today must ship too: a job or a handler imported by
    name at run time would otherwise fail only in production."""
    modules = [path for path in ignore.context_files(REPO_ROOT) if is_installed_module(path)]
    assert modules

    missing = [path for path in modules if not (app_dir / path).is_file()]

    assert missing == []
    assert (app_dir / "pyproject.toml").is_file()  # `pip install -e .` in the image needs it
    readme = pyproject()["project"].get("readme")
    assert readme is None or (app_dir / readme).is_file()
    assert not (app_dir / "gateway" / "router").exists()  # the router's own image has it


def test_a_package_left_out_of_the_dockerfile_breaks_the_image(
    image: Image, ignore: DockerIgnore, tmp_path: Path
) -> None:
    """The checks above would see a package missing from the COPY lines."""
    without_worker = Image(
        workdir=image.workdir,
        copies=[copy for copy in image.copies if "worker" not in copy.sources],
        entrypoint=image.entrypoint,
        env=image.env,
    )
    assert len(without_worker.copies) == len(image.copies) - 1, "no `COPY worker` line"
    app_dir = build_file_set(without_worker, REPO_ROOT, ignore, tmp_path)

    report = probe(app_dir, without_worker, [["worker"]])

    assert any("No module named 'worker'" in error for error in report["errors"]), report
    assert not (app_dir / "worker").exists()


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        (".venv/bin/python", True),
        ("gateway/router/node_modules/graphql/index.js", True),
        ("subgraphs/kit/__pycache__/cache.cpython-311.pyc", True),
        (".env", True),
        ("cli/.env", True),
        ("subgraphs/points/app.py", False),
        ("gateway/router/package.json", False),
        ("db/migrations/versions/0001_initial.py", False),
    ],
)
def test_dockerignore_patterns(ignore: DockerIgnore, path: str, excluded: bool) -> None:
    assert ignore.excludes(path) is excluded


def test_copy_lines_are_read_like_docker_reads_them(tmp_path: Path) -> None:
    context = tmp_path / "context"
    for path in ("pkg/__init__.py", "pkg/sub/mod.py", "top.txt", "other.txt", "pkg/skip.pyc"):
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        (context / path).write_text(path)
    dockerfile = """
        FROM python:3.12-slim AS base
        WORKDIR /ignored
        FROM python:3.12-slim
        WORKDIR /srv
        WORKDIR app
        COPY --chown=1000 pkg ./pkg
        COPY top.txt other.txt ./texts/
        COPY ["top.txt", "renamed.txt"]
        COPY --from=base /etc/hostname /etc/
        ENTRYPOINT ["tool", \\
                    "run"]
    """
    image = parse_dockerfile(dockerfile)

    app_dir = build_file_set(image, context, DockerIgnore.parse("**/*.pyc"), tmp_path / "root")

    assert image.workdir == "/srv/app"
    assert image.entrypoint == ["tool", "run"]
    assert app_dir == tmp_path / "root" / "srv" / "app"
    files = sorted(p.relative_to(app_dir).as_posix() for p in app_dir.rglob("*") if p.is_file())
    assert files == [
        "pkg/__init__.py",
        "pkg/sub/mod.py",
        "renamed.txt",
        "texts/other.txt",
        "texts/top.txt",
    ]
