"""Declarative base shared by every model, and the columns and table options the design
repeats in every tenant table (DESIGN.md, "Data")."""

from datetime import datetime
from typing import Annotated

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    Text,
    UniqueConstraint,
    func,
)
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


def customer_foreign_key(column: str = "customer_id") -> ForeignKeyConstraint:
    """(merchant_id, ``column``) references a customer, and goes with them."""
    return ForeignKeyConstraint(
        ["merchant_id", column], ["customers.merchant_id", "customers.id"], ondelete="CASCADE"
    )


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
