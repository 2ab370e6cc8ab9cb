"""Customer data imports (migrations 0015, 0020): one row per import, one per applied file row,
and the staged uploads whose bytes wait for their import."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    MerchantKey,
    TextKey,
    created_at_column,
)


class DataImportSource(enum.StrEnum):
    SMILE = "smile"
    LOYALTYLION = "loyaltylion"
    SHOPIFY = "shopify"
    CUSTOM = "custom"


class DataImportStatus(enum.StrEnum):
    # A dry run: validated and counted, nothing applied.
    PREVIEWED = "previewed"
    # A commit accepted and waiting for the worker (its file in ``staged_uploads``).
    QUEUED = "queued"
    # A worker is applying it, in one transaction: nothing shows until it commits.
    RUNNING = "running"
    COMMITTED = "committed"
    # Refused by the worker (``failure_reason``): nothing was applied.
    FAILED = "failed"
    REVERTED = "reverted"


UNFINISHED_IMPORT_STATUSES = (DataImportStatus.QUEUED, DataImportStatus.RUNNING)


class DataImport(Base):
    """An import of a CSV file: what it was, what it found, and what it did (or would do).

    A dry run holds no idempotency key (it claims nothing); a commit holds the client's key, or
    the file's fingerprint, so the same import sent twice replays the first one."""

    __tablename__ = "data_imports"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key"),
        CheckConstraint(
            "source IN ('smile', 'loyaltylion', 'shopify', 'custom')", name="source_known"
        ),
        CheckConstraint(
            "status IN ('previewed', 'queued', 'running', 'committed', 'failed', 'reverted')",
            name="status_known",
        ),
        CheckConstraint(
            "row_count >= 0 AND create_count >= 0 AND update_count >= 0 AND skip_count >= 0"
            " AND error_count >= 0",
            name="counts_not_negative",
        ),
        Index(
            "ix_data_imports_unfinished",
            "merchant_id",
            "id",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    source: Mapped[str]
    status: Mapped[str]
    idempotency_key: Mapped[str | None]
    # SHA-256 of the source, the mapping and the file: a key reused for another file is refused.
    fingerprint: Mapped[str]
    file_name: Mapped[str | None]
    # The custom mapping (file column -> field), or null for a built-in source.
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    row_count: Mapped[int] = mapped_column(Integer)
    create_count: Mapped[int] = mapped_column(Integer)
    update_count: Mapped[int] = mapped_column(Integer)
    skip_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    # Points the import credits (previewed) or credited (committed), in total.
    points_total: Mapped[int] = mapped_column(BigInteger)
    # [{"row": 3, "column": "email", "code": "invalid_email", "message": "..."}], file order.
    error_log: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    actor_id: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
    committed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the revert took back, what it could not (already spent), whom it removed.
    reverted_points: Mapped[int | None] = mapped_column(BigInteger)
    revert_shortfall: Mapped[int | None] = mapped_column(BigInteger)
    removed_customers: Mapped[int | None] = mapped_column(Integer)
    # A queued import's file (``staged_uploads``), removed once the import is applied.
    upload_id: Mapped[str | None]
    skip_invalid_rows: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # The worker's progress: rows applied of create_count + update_count.
    rows_done: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # How many times a worker started it (one that died mid-way counts: see the sweeper).
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failure_reason: Mapped[str | None]


class DataImportRow(Base):
    """One applied row of a committed import: staged by COPY, then merged into customers and
    the ledger; the revert reads it to find exactly that import's entries and customers."""

    __tablename__ = "data_import_rows"
    # No foreign key to data_imports: the rows are written once, by their import's commit in
    # its transaction, and a per-row key check was a fifth of the time of a 50,000-row commit.
    __table_args__ = ({"postgresql_partition_by": "HASH (merchant_id)"},)

    merchant_id: Mapped[TextKey]
    import_id: Mapped[TextKey]
    # 1-based line of the data row in the file (the header is row 0).
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str]
    created_customer: Mapped[bool] = mapped_column(Boolean)
    points: Mapped[int] = mapped_column(BigInteger)
    # The `import` ledger entry of this row (null when it credits no points).
    transaction_id: Mapped[str | None]


class StagedUpload(Base):
    """A file sent for an import, kept (encrypted) until its import is applied, or until it
    expires unused. ``content_encrypted`` is null while an upload slot waits for its bytes."""

    __tablename__ = "staged_uploads"
    __table_args__ = (
        CheckConstraint("file_size >= 0", name="size_not_negative"),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    file_name: Mapped[str | None]
    file_size: Mapped[int] = mapped_column(Integer)
    content_encrypted: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
