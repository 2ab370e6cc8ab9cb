"""The typed models and the migrations describe the same schema: code that reads a column
the migrations never created (or misses a constraint they did) fails here, not in production."""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, text
from sqlalchemy.engine import Connection

from db.models import Base
from subgraphs.kit.resources import Resources

# Hash partitions (_p00.._p15) and monthly log partitions (_y2026m11) are made by DDL helpers.
_PARTITION = re.compile(r".+_(p\d\d|y\d{4}m\d\d)$")
# Postgres clones a foreign key once per partition of the referenced table (..._fkey1, _fkey2):
# catalog detail of partitioning, not a difference in the schema.
_PARTITION_FK_CLONE = re.compile(r".+_fkey\d*$")


def _meaningful(difference: Any) -> bool:
    if isinstance(difference, tuple) and difference[0] == "remove_fk":
        return not _PARTITION_FK_CLONE.match(difference[1].name or "")
    return True


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_name": lambda name, kind, _parent: (
                not (
                    kind == "table" and (_PARTITION.match(name or "") or name == "alembic_version")
                )
            ),
        },
    )
    return [d for d in compare_metadata(context, Base.metadata) if _meaningful(d)]


async def test_models_match_the_migrated_schema(resources: Resources) -> None:
    async with resources.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_every_check_constraint_has_the_name_its_model_gives_it(
    resources: Resources,
) -> None:
    """Autogenerate does not compare check constraints: a migration that named one off the
    convention (``ck_orders_ck_orders_channel_known``) would make a later one that drops it by
    the model's name fail."""
    expected = {
        (table.name, str(constraint.name))
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint) and constraint.name
    }
    async with resources.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint"
                " WHERE contype = 'c' AND conrelid::regclass::text = ANY(:tables)"
            ),
            {"tables": sorted({table for table, _ in expected})},
        )
        found = {(table, name) for table, name in rows}
    assert expected - found == set()
