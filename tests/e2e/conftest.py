"""The real stack for end-to-end tests: four subgraph processes and the Hive Gateway router,
on free ports, over the test database and Redis."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cli.embedded import free_port
from cli.processes import router_command, wait_until_ready
from cli.stack import REPO_ROOT, ROUTER_DIR, SUBGRAPHS, ensure_router_installed
from subgraphs.kit.settings import Settings
from tests.services import service_env


@dataclass(frozen=True)
class Router:
    url: str
    # The environment it runs with: the subgraphs' URLs, the database, Redis.
    env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)


@pytest.fixture(scope="session")
def router(settings: Settings) -> Iterator[Router]:
    ensure_router_installed()
    env = service_env(settings)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for subgraph in SUBGRAPHS.values():
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "serve", subgraph.name, "--port", str(port)],
                env=env,
                cwd=REPO_ROOT,
            )
            processes.append(process)
            wait_until_ready(f"http://127.0.0.1:{port}/health", process, subgraph.name)
            env[f"LOYALNEST_{subgraph.name.upper()}_URL"] = f"http://127.0.0.1:{port}/graphql"
        with router_process(env) as started:
            yield started
    finally:
        _stop(processes)


@contextmanager
def router_process(env: dict[str, str], log: Path | None = None) -> Iterator[Router]:
    """A router process over ``env``'s subgraphs, on a free port, its output into ``log`` if
    given; stopped on exit."""
    port = free_port()
    env = {**env, "LOYALNEST_ROUTER_PORT": str(port)}
    with ExitStack() as files:
        output = files.enter_context(log.open("wb")) if log is not None else None
        process = subprocess.Popen(
            router_command(), env=env, cwd=ROUTER_DIR, stdout=output, stderr=output
        )
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/healthcheck", process, "router")
            yield Router(url=f"http://127.0.0.1:{port}/graphql", env=env)
        finally:
            _stop([process])


@contextmanager
def another_router(router: Router, log: Path | None = None, **overrides: str) -> Iterator[Router]:
    """A second router in front of the same subgraphs, with some settings changed (e.g.
    small rate limits), so a test can change them without affecting the shared router."""
    with router_process({**router.env, **overrides}, log) as started:
        yield started


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
