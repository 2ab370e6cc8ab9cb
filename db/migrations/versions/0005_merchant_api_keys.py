"""Merchant API keys for third-party tools: hashed, scoped, revocable.

Keys look like ``lnk_<merchant id>_<secret>``, so a key is checked inside its merchant's
tenant transaction by (merchant_id, key_hash): hash-partitioned and row-level secured like
every tenant table (see db/models/api_key.py).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from db import ddl

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    ddl.create_tenant_table(
        "merchant_api_keys",
        *ddl.entity_key(),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("display_prefix", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False),
        sa.Column("scopes", ARRAY(sa.Text), nullable=False),
        sa.Column("created_by", sa.Text),
        ddl.now_column("created_at"),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        ddl.merchant_foreign_key(),
        sa.UniqueConstraint(
            "merchant_id", "key_hash", name="uq_merchant_api_keys_merchant_id_key_hash"
        ),
        sa.CheckConstraint("cardinality(scopes) > 0", name="scopes_not_empty"),
        # No DELETE: a key is revoked (revoked_at), and the row stays as the record of it.
        grant="SELECT, INSERT, UPDATE",
    )


def downgrade() -> None:
    op.drop_table("merchant_api_keys")
