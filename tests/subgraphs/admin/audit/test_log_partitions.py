"""The upkeep of the append-only logs' monthly partitions."""

from __future__ import annotations

from subgraphs.admin.audit.jobs import maintain_log_partitions_job
from subgraphs.kit.resources import Resources


async def test_partition_maintenance_job_is_idempotent(resources: Resources) -> None:
    first = await maintain_log_partitions_job({"resources": resources})
    second = await maintain_log_partitions_job({"resources": resources})

    assert isinstance(first, list)
    assert all(action in ("created", "dropped") for action, _ in first)
    assert second == []
