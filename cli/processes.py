"""Supervising the dev stack's child processes: the router's command line, waiting for a
child to answer its health check, and stopping every child the way Ctrl-C does."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx

from cli.stack import ROUTER_DIR, SUPERGRAPH_FILE


def router_command() -> list[str]:
    # The hive-gateway CLI's command line, served by our own entry point (it adds the WebSocket
    # connection_init check the CLI has no hook for; gateway/router/server.ts says why).
    return [
        "node",
        str(ROUTER_DIR / "server.mjs"),
        "supergraph",
        str(SUPERGRAPH_FILE),
        "-c",
        "gateway.config.ts",
        "--hive-router-runtime",
    ]


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], name: str, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not become ready at {url}")


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
