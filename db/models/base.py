"""Declarative base shared by every model, and the columns and table options the design
repeats in every tenant table (DESIGN.md, "Data")."""

from datetime import datetime
from typing import Annotated, Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every string column is Postgres text: ``name: Mapped[str]`` needs no mapped_column().
    type_annotation_map = {str: Text}


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def updated_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


# merchant_id of a table that hangs off the merchant: first in the primary key, and its rows go
# with the merchant.
MerchantKey = Annotated[
    str, mapped_column(Text, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True)
]
# Any other text column of a primary key (ids are text UUIDv7s; the merchant_id of a table
# whose composite foreign key, or none, says what its rows go with).
TextKey = Annotated[str, mapped_column(Text, primary_key=True)]
# created_at of an append-only log: part of its primary key, as its monthly partitions are
# ranges of it.
LoggedAtKey = Annotated[
    datetime, mapped_column(DateTime(timezone=True), primary_key=True, server_default=func.now())
]


# The table option of every tenant table but the logs: hash partitions by merchant.
HASH_PARTITIONED_BY_MERCHANT = {"postgresql_partition_by": "HASH (merchant_id)"}


def tenant_foreign_key(column: str, target: str, *, cascade: bool = True) -> ForeignKeyConstraint:
    """(merchant_id, ``column``) references ``target`` (merchant_id, id) of the same merchant;
    with ``cascade`` the row goes with the one it references."""
    return ForeignKeyConstraint(
        ["merchant_id", column],
        [f"{target}.merchant_id", f"{target}.id"],
        ondelete="CASCADE" if cascade else None,
    )


def customer_foreign_key(column: str = "customer_id") -> ForeignKeyConstraint:
    """(merchant_id, ``column``) references a customer, and goes with them."""
    return tenant_foreign_key(column, "customers")


def idempotent_create_constraints() -> tuple[UniqueConstraint, CheckConstraint]:
    """A table whose rows are made by a create that is safe to retry (migration 0008): one row
    per ``(merchant_id, idempotency_key)``, and the request's fingerprint beside every key."""
    return (
        UniqueConstraint("merchant_id", "idempotency_key"),
        CheckConstraint(
            "(idempotency_key IS NULL) = (idempotency_fingerprint IS NULL)",
            name="idempotency_fingerprint_with_key",
        ),
    )


class Timestamps:
    """``created_at`` and ``updated_at`` (set by Postgres on insert, by the ORM on update)."""

    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class Versioned:
    """``version``, bumped by every update; an update may name the version it read
    (``expectedVersion``) and is refused when the row has moved on."""

    version: Mapped[int] = mapped_column(Integer, server_default="1")


class IdempotentCreate:
    """The key and input fingerprint of the create request that made the row (None for rows
    made before migration 0008); the table also takes ``idempotent_create_constraints()``."""

    idempotency_key: Mapped[str | None]
    idempotency_fingerprint: Mapped[str | None]


class SettingsDocument(Versioned, Timestamps):
    """A merchant's settings: one row per merchant holding one JSON document, validated by
    the owning service before it is written and read back through the same model
    (migrations' ``ddl.create_settings_table``)."""

    __table_args__: Any = (HASH_PARTITIONED_BY_MERCHANT,)

    # Ahead of the subclass's own columns, in the table's order: the key first.
    merchant_id: Mapped[MerchantKey] = mapped_column(sort_order=-2)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, sort_order=-1)
