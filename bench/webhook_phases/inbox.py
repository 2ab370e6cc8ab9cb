"""The shim's inbox (`api_logs`), read from the side over an autocommit connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from harness import Processes
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass
class ProcessedRows:
    created: list[datetime]
    processed: list[datetime]
    durations: list[float]

    def per_second(self) -> float:
        """Orders per second between the first and the last transaction start in the worker."""
        if len(self.processed) < 2:
            return 0.0
        span = (max(self.processed) - min(self.processed)).total_seconds()
        return (len(self.processed) - 1) / span if span > 0 else 0.0

    def delays(self) -> list[float]:
        """From the shim's inbox transaction to the end of the worker's handler."""
        return [
            (processed - created).total_seconds() + duration
            for created, processed, duration in zip(
                self.created, self.processed, self.durations, strict=True
            )
        ]


@dataclass(frozen=True)
class Stored:
    count: int
    # From the first delivery stored to the last.
    seconds: float


@dataclass
class Inbox:
    connection: AsyncConnection

    async def statuses(self) -> dict[str, int]:
        rows = await self.connection.execute(
            text("SELECT status, count(*) FROM api_logs GROUP BY status")
        )
        return {str(status): int(count) for status, count in rows}

    async def stored_since(self, since: datetime) -> Stored:
        """Deliveries the shim stored since ``since``."""
        row = (
            await self.connection.execute(
                text(
                    "SELECT count(*), extract(epoch FROM max(created_at) - min(created_at))"
                    " FROM api_logs WHERE created_at >= :since"
                ),
                {"since": since},
            )
        ).one()
        return Stored(int(row[0]), float(row[1] or 0))

    async def now(self) -> datetime:
        value = await self.connection.scalar(text("SELECT now()"))
        assert isinstance(value, datetime)
        return value

    async def processed_since(self, since: datetime | None = None) -> ProcessedRows:
        """Rows created at or after ``since`` that are done: when, and how long each took."""
        query = "SELECT created_at, processed_at, duration_ms FROM api_logs WHERE status = 'done'"
        if since is not None:
            query += " AND created_at >= :since"
        rows = (await self.connection.execute(text(query), {"since": since})).all()
        return ProcessedRows(
            created=[row[0] for row in rows],
            processed=[row[1] for row in rows],
            durations=[(row[2] or 0) / 1000 for row in rows],
        )

    async def wait_until_finished(
        self, total: int, processes: Processes, *, within: float
    ) -> dict[str, int]:
        """Until at least ``total`` rows are done or failed; the counts by status."""
        counts: dict[str, int] = {}

        async def finished() -> bool:
            nonlocal counts
            counts = await self.statuses()
            return counts.get("done", 0) + counts.get("failed", 0) >= total

        await processes.wait(
            finished, within=within, what="the inbox did not drain", state=lambda: counts
        )
        return counts
