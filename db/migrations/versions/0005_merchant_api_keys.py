"""Merchant API keys for third-party tools: hashed, scoped, revocable.

Keys look like ``lnk_<merchant id>_<secret>``, so a key is checked inside its merchant's
tenant transaction by (merchant_id, key_hash): hash-partitioned and row-level secured like
every tenant table (see db/models/api_key.py).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from db.partitions import hash_partitions, tenant_isolation
from db.session import APP_ROLE

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "merchant_api_keys",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("display_prefix", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False),
        sa.Column("scopes", ARRAY(sa.Text), nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_merchant_api_keys"),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            ondelete="CASCADE",
            name="fk_merchant_api_keys_merchant_id_merchants",
        ),
        sa.UniqueConstraint(
            "merchant_id", "key_hash", name="uq_merchant_api_keys_merchant_id_key_hash"
        ),
        sa.CheckConstraint("cardinality(scopes) > 0", name="scopes_not_empty"),
        postgresql_partition_by="HASH (merchant_id)",
    )
    for statement in hash_partitions("merchant_api_keys") + tenant_isolation("merchant_api_keys"):
        op.execute(statement)
    # No DELETE: a key is revoked (revoked_at), and the row stays as the record of it.
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON merchant_api_keys TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("merchant_api_keys")
