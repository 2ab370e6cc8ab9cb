"""GDPR to the end (issue 15): exports built by a worker job, download links good for one use,
and erased customers' Klaviyo profiles deleted.

``gdpr_requests`` gains what the export job needs: ``export_spec_encrypted`` (what the data
request asked for, encrypted: it quotes the customer's email; cleared once the export is
built) and ``attempts`` (starts of the job, so an export that keeps crashing ends failed). A
partial index finds the pending requests the sweeper re-enqueues.

``gdpr_export_downloads``: one row per download link used (its random id is in the signed
link), so a second use of a link is refused; rows go with their request (and its 90 days).

``gdpr_profile_deletions``: the profiles a customer erasure asks the merchant's Klaviyo to
delete. The identifier (the email) is encrypted and cleared once Klaviyo accepted the
deletion, or the job gave up: nothing of the person outlives the job; the row (the record
that the deletion was asked for) goes with its request after 90 days.
"""

import sqlalchemy as sa
from alembic import op

from db import ddl

revision = "0026"
down_revision = "0025"


def upgrade() -> None:
    op.add_column("gdpr_requests", sa.Column("export_spec_encrypted", sa.Text))
    op.add_column(
        "gdpr_requests", sa.Column("attempts", sa.Integer, nullable=False, server_default="0")
    )
    op.create_index(
        "ix_gdpr_requests_pending",
        "gdpr_requests",
        ["created_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )

    ddl.create_tenant_table(
        "gdpr_export_downloads",
        *ddl.entity_key(),
        sa.Column("request_id", sa.Text, nullable=False),
        ddl.now_column("created_at"),
        ddl.merchant_foreign_key(),
        ddl.tenant_foreign_key("request_id", "gdpr_requests"),
        grant="SELECT, INSERT, DELETE",
    )

    ddl.create_tenant_table(
        "gdpr_profile_deletions",
        *ddl.entity_key(),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("identifier_encrypted", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        *ddl.timestamps(),
        ddl.merchant_foreign_key(),
        # The record goes with its erasure's request, after the same 90 days.
        ddl.tenant_foreign_key("request_id", "gdpr_requests"),
        sa.UniqueConstraint("merchant_id", "customer_id", "provider"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'requested', 'skipped', 'failed')",
            name="status_known",
        ),
        grant="SELECT, INSERT, UPDATE, DELETE",
    )
    op.create_index(
        "ix_gdpr_profile_deletions_unfinished",
        "gdpr_profile_deletions",
        ["created_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )


def downgrade() -> None:
    op.drop_table("gdpr_profile_deletions")
    op.drop_table("gdpr_export_downloads")
    op.drop_index("ix_gdpr_requests_pending", table_name="gdpr_requests")
    op.drop_column("gdpr_requests", "attempts")
    op.drop_column("gdpr_requests", "export_spec_encrypted")
