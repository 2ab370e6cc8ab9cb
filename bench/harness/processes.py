"""The child processes of a run: started in order, each with its own log, watched for an early
exit, and stopped in reverse order when the run ends (also on Ctrl-C or SIGTERM)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

# The project's code: this path moves with it.
from cli.embedded import EmbeddedRedis, free_port, start_redis

__all__ = ["Processes", "Service", "free_port"]


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        code = self.process.poll()
        if code is not None:
            tail = self.log.read_text(errors="replace").splitlines()[-30:]
            raise RuntimeError(f"{self.name} exited with {code}:\n" + "\n".join(tail))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class Processes:
    """Processes started for one run, logging into ``scratch``."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.services: dict[str, Service] = {}

    def start(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path) -> Service:
        log = self.scratch / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C reaches only the bench, which stops its processes
                # in order (the last started first, then Postgres) instead of all at once.
                start_new_session=True,
            )
        self.services[name] = Service(name, process, log)
        return self.services[name]

    def start_redis(self) -> EmbeddedRedis:
        """An embedded Redis of our own: a worker already on a shared one would take our jobs."""
        redis = start_redis(self.scratch)
        log = self.scratch / "redis" / "redis.log"
        self.services["redis"] = Service("redis", redis.process, log)
        return redis

    def check(self) -> None:
        """Fail with the tail of its log if one of the processes has exited."""
        for service in self.services.values():
            service.check()

    def stop(self, name: str) -> None:
        self.services.pop(name).stop()

    def stop_all(self) -> None:
        for name in reversed(list(self.services)):
            self.stop(name)

    async def wait(
        self,
        ready: Callable[[], Awaitable[bool]],
        *,
        within: float,
        what: str,
        state: Callable[[], object] | None = None,
    ) -> None:
        """Poll ``ready`` every 100 ms; fail when a process exits, or after ``within`` s with
        ``what`` and the ``state`` last seen."""
        deadline = time.monotonic() + within
        while not await ready():
            self.check()
            if time.monotonic() > deadline:
                seen = f": {state()}" if state is not None else ""
                raise RuntimeError(f"{what} within {within:.0f} s{seen}")
            await asyncio.sleep(0.1)
