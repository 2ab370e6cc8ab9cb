"""Run by tests/test_image.py as ``python -I -S -B image_probe.py PLAN``, never imported.

It stands in for the production image: ``sys.path`` is the image's application directory
(a copy of what the Dockerfile's COPY lines put there), the standard library and the venv's
site-packages, added by hand so that no ``.pth`` file runs and the venv's editable install of
this project cannot answer an import. Then it imports what each command in compose.yaml
imports and prints a JSON report: the errors, and every project module with the file it came
from (the test checks they all lie inside the copy).

PLAN is JSON: ``{"app_dir", "site_packages", "packages", "script", "commands"}``, where
``script`` is the ``[project.scripts]`` target of the ENTRYPOINT and ``commands`` the
compose services' commands, e.g. ``["serve", "points"]``.
"""

from __future__ import annotations

import ast
import functools
import importlib
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

plan: dict[str, Any] = json.loads(sys.argv[1])
APP_DIR = Path(plan["app_dir"])
PACKAGES: list[str] = plan["packages"]
# -S left the standard library only; the image's directory goes first, site-packages last.
sys.path[:] = [str(APP_DIR), *sys.path, *plan["site_packages"]]

errors: list[str] = []
checked: dict[str, list[str]] = {}


def check(name: str, run: Callable[[], list[str] | None]) -> None:
    try:
        checked[name] = run() or []
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: report, go on
        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        where = "; ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames)
        errors.append(f"{name}: {type(exc).__name__}: {exc} (at {where})")


def entry_point() -> Any:
    module_name, _, attribute = str(plan["script"]).partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def cli_commands() -> set[str]:
    import typer

    app = entry_point()
    assert isinstance(app, typer.Typer), f"{plan['script']} is {type(app).__name__}, not Typer"
    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


def serve(service: str) -> list[str]:
    """What ``loyalnest serve SERVICE`` hands uvicorn (cli/main.py's serve), imported the way
    uvicorn imports it."""
    import httptools  # noqa: F401 - serve runs uvicorn with http="httptools", loop="uvloop"
    import uvloop  # noqa: F401
    from uvicorn.importer import import_from_string

    entry_point()
    stack = importlib.import_module("cli.stack")
    if service == "edge":
        target = stack.EDGE_APP
    else:
        assert service in stack.SUBGRAPHS, f"cli.stack.SUBGRAPHS has no {service!r}"
        target = stack.SUBGRAPHS[service].app
    app = import_from_string(target)
    assert callable(app), f"{target} is not an ASGI app"
    return [target]


def _jobs_modules_on_disk(packages: list[ModuleType]) -> set[str]:
    found = set()
    for package in packages:
        for directory in package.__path__:
            for path in Path(directory).rglob("jobs*"):
                if path.name == "jobs.py" or (path.name == "jobs" and path.is_dir()):
                    relative = path.relative_to(Path(directory).parent).with_suffix("")
                    found.add(".".join(relative.parts))
    return found


def worker() -> list[str]:
    """What ``loyalnest worker`` does before it connects: discover the jobs, build arq's
    settings."""
    from arq import run_worker  # noqa: F401 - the CLI's worker command runs it

    entry_point()
    settings_module = importlib.import_module("worker.settings")
    specs = settings_module.discover_jobs()
    assert specs, "discover_jobs() found no job"
    expected = _jobs_modules_on_disk(list(settings_module.JOB_PACKAGES))
    missing = sorted(name for name in expected if name not in sys.modules)
    assert not missing, f"jobs modules discover_jobs() did not import: {missing}"
    kit_settings = importlib.import_module("subgraphs.kit.settings")
    settings = kit_settings.Settings(REDIS_URL="redis://127.0.0.1:6379/0")
    arq_settings = settings_module.worker_settings(settings)
    assert arq_settings["functions"], "the worker would register no function"
    return sorted(expected)


def migrate() -> list[str]:
    """What ``loyalnest migrate`` needs: db.migrate, the migrations directory with every
    revision loadable, and what env.py imports."""
    from alembic.script import ScriptDirectory

    entry_point()
    db_migrate = importlib.import_module("db.migrate")
    directory = Path(db_migrate.MIGRATIONS_DIR)
    env = directory / "env.py"
    assert env.is_file(), f"{env} is missing"
    for node in ast.walk(ast.parse(env.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            importlib.import_module(node.module)
    script = ScriptDirectory.from_config(db_migrate.alembic_config("postgresql://probe/probe"))
    revisions = [revision.revision for revision in script.walk_revisions()]
    assert revisions, f"no revision in {directory}"
    return [str(directory), *revisions]


def main() -> None:
    check("entry point", lambda: sorted(cli_commands()))
    check("subgraphs", lambda: sorted(importlib.import_module("cli.stack").SUBGRAPHS))
    for command in plan["commands"]:
        name, *arguments = command
        label = " ".join(command)
        if name not in checked.get("entry point", [name]):
            errors.append(f"{label}: the CLI has no command {name!r}")
        elif name == "serve":
            check(label, functools.partial(serve, arguments[0]))
        elif name == "worker":
            check(label, worker)
        elif name == "migrate":
            check(label, migrate)

    # Finders are often classes: name the class, not its metaclass.
    finders = [
        getattr(finder, "__qualname__", type(finder).__qualname__) for finder in sys.meta_path
    ]
    origins: dict[str, list[str]] = {}
    for name, module in sorted(sys.modules.items()):
        if name.partition(".")[0] in PACKAGES:
            file = getattr(module, "__file__", None)
            origins[name] = [file] if file else list(getattr(module, "__path__", []))
    print(
        json.dumps({"errors": errors, "checked": checked, "modules": origins, "finders": finders})
    )


main()
