"""The real stack for end-to-end tests: four subgraph processes and the Hive Gateway router,
on free ports, over the test database and Redis."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cli.embedded import free_port
from cli.processes import router_command, wait_until_ready
from cli.stack import REPO_ROOT, ROUTER_DIR, SUBGRAPHS, ensure_router_installed
from subgraphs.kit.settings import Settings
from tests.services import service_env


@dataclass(frozen=True)
class Router:
    url: str

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
        router_port = free_port()
        env["LOYALNEST_ROUTER_PORT"] = str(router_port)
        router_process = subprocess.Popen(router_command(), env=env, cwd=ROUTER_DIR)
        processes.append(router_process)
        wait_until_ready(f"http://127.0.0.1:{router_port}/healthcheck", router_process, "router")
        yield Router(url=f"http://127.0.0.1:{router_port}/graphql")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
