"""Campaign suggestions (``campaign_suggestions``): analytics' proposals from segment
movements, with their evidence, open until the merchant accepts or dismisses them."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db import ddl

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    ddl.create_tenant_table(
        "campaign_suggestions",
        *ddl.entity_key(),
        sa.Column("dedupe_key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("proposal", JSONB, nullable=False),
        sa.Column("campaign_id", sa.Text),
        ddl.now_column("created_at"),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.Text),
        ddl.merchant_foreign_key(),
        sa.UniqueConstraint("merchant_id", "dedupe_key"),
        sa.CheckConstraint("status IN ('open', 'accepted', 'dismissed')", name="status_known"),
        sa.CheckConstraint(
            "campaign_id IS NULL OR status = 'accepted'", name="campaign_only_when_accepted"
        ),
        grant="SELECT, INSERT, UPDATE",
    )


def downgrade() -> None:
    op.drop_table("campaign_suggestions")
