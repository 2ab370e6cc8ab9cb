"""The federation as processes for a benchmark: the four subgraphs (`loyalnest serve NAME`) and
the router over them, each waited for until it answers its health route. Shared by api.py and
realtime.py, so both measure the stack the product runs."""

from __future__ import annotations

import sys
from contextlib import suppress
from dataclasses import dataclass

import httpx
from harness import Processes, free_port

# The project's code: these paths move with it.
from cli.processes import router_command
from cli.stack import REPO_ROOT, ROUTER_DIR, SUBGRAPHS, ensure_router_installed


@dataclass(frozen=True)
class Federation:
    # Each subgraph's GraphQL URL, by subgraph name.
    subgraph_urls: dict[str, str]
    router_url: str

    @property
    def router_ws_url(self) -> str:
        return self.router_url.replace("http://", "ws://", 1)


async def wait_until_up(processes: Processes, url: str, what: str) -> None:
    async with httpx.AsyncClient(timeout=2) as client:

        async def ready() -> bool:
            with suppress(httpx.TransportError):
                return (await client.get(url)).status_code == 200
            return False

        await processes.wait(ready, within=90, what=f"{what} did not answer {url}")


def start_python(processes: Processes, name: str, argv: list[str], env: dict[str, str]) -> None:
    processes.start(name, [sys.executable, *argv], env=env, cwd=REPO_ROOT)


async def start_federation(processes: Processes, env: dict[str, str]) -> Federation:
    ensure_router_installed()
    router_env = dict(env)
    subgraph_urls: dict[str, str] = {}
    for subgraph in SUBGRAPHS.values():
        port = free_port()
        start_python(
            processes,
            subgraph.name,
            ["-m", "cli.main", "serve", subgraph.name, "--port", str(port)],
            env,
        )
        await wait_until_up(processes, f"http://127.0.0.1:{port}/health", subgraph.name)
        subgraph_urls[subgraph.name] = f"http://127.0.0.1:{port}/graphql"
        router_env[f"LOYALNEST_{subgraph.name.upper()}_URL"] = subgraph_urls[subgraph.name]
    router_port = free_port()
    router_env["LOYALNEST_ROUTER_PORT"] = str(router_port)
    processes.start("router", router_command(), env=router_env, cwd=ROUTER_DIR)
    await wait_until_up(processes, f"http://127.0.0.1:{router_port}/healthcheck", "the router")
    return Federation(subgraph_urls, f"http://127.0.0.1:{router_port}/graphql")
