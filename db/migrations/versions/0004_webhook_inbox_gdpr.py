"""The Shopify edge: api_logs becomes the durable webhook inbox, webhook receipts deduplicate
deliveries, gdpr_requests records every data request and erasure, merchants remember an
uninstall.
"""

import sqlalchemy as sa
from alembic import op

from db import ddl

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    # api_logs was created for API call logs and nothing has written to it; it is now the
    # webhook inbox. The payload is encrypted (it carries names, emails, addresses) and is
    # cleared once the delivery is done, so only undone deliveries hold PII.
    op.alter_column("api_logs", "operation", new_column_name="topic")
    op.alter_column("api_logs", "duration_ms", nullable=True)
    op.alter_column("api_logs", "status", server_default="pending")
    op.add_column("api_logs", sa.Column("webhook_id", sa.Text, nullable=False))
    op.add_column("api_logs", sa.Column("event_id", sa.Text))
    op.add_column("api_logs", sa.Column("triggered_at", sa.DateTime(timezone=True)))
    op.add_column("api_logs", sa.Column("api_version", sa.Text))
    op.add_column("api_logs", sa.Column("payload_encrypted", sa.Text))
    op.add_column("api_logs", sa.Column("payload_bytes", sa.Integer, nullable=False))
    # Who the delivery is about (Shopify customer id), so customers/redact can find the
    # deliveries still holding that customer's payload.
    op.add_column("api_logs", sa.Column("shopify_customer_id", sa.Text))
    op.add_column("api_logs", sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
    op.add_column("api_logs", sa.Column("last_error", sa.Text))
    op.add_column(
        "api_logs",
        ddl.now_column("next_attempt_at"),
    )
    op.add_column("api_logs", sa.Column("processed_at", sa.DateTime(timezone=True)))
    op.add_column("api_logs", ddl.now_column("updated_at"))
    op.create_check_constraint(
        "status_known", "api_logs", "status IN ('pending', 'done', 'failed')"
    )
    op.create_check_constraint("attempts_not_negative", "api_logs", "attempts >= 0")
    # The sweeper's scan: only undone rows, soonest due first.
    op.create_index(
        "ix_api_logs_pending_due",
        "api_logs",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    # The admin dashboard: a merchant's deliveries by status and topic, newest first.
    op.create_index(
        "ix_api_logs_merchant_status_topic",
        "api_logs",
        ["merchant_id", "status", "topic", "created_at"],
    )
    op.create_index(
        "ix_api_logs_merchant_customer",
        "api_logs",
        ["merchant_id", "shopify_customer_id"],
        postgresql_where=sa.text("shopify_customer_id IS NOT NULL"),
    )
    ddl.grant_to_app("UPDATE, DELETE", "api_logs")
    ddl.grant_to_app("DELETE", "audit_logs")

    # A month-partitioned table cannot hold a unique key without the month, so the
    # deduplication of Shopify's retries (same X-Shopify-Webhook-Id) lives here.
    ddl.create_tenant_table(
        "webhook_receipts",
        ddl.merchant_id_column(),
        sa.Column("webhook_id", sa.Text, nullable=False),
        sa.Column("delivery_id", sa.Text, nullable=False),
        sa.Column("delivery_created_at", sa.DateTime(timezone=True), nullable=False),
        ddl.now_column("created_at"),
        sa.PrimaryKeyConstraint("merchant_id", "webhook_id"),
        ddl.merchant_foreign_key("fk_webhook_receipts_merchant_id"),
        grant="SELECT, INSERT, UPDATE, DELETE",
    )

    ddl.create_tenant_table(
        "gdpr_requests",
        *ddl.entity_key(),
        sa.Column("request_type", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("shopify_customer_id", sa.Text),
        # No foreign key: the request outlives a redacted customer's identifying data and
        # must stay as the record that the erasure happened.
        sa.Column("customer_id", sa.Text),
        sa.Column("delivery_id", sa.Text),
        # The data_request export (JSON), AES-256-GCM encrypted; erased by a later redact.
        sa.Column("export_encrypted", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("retention_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        *ddl.timestamps(),
        ddl.merchant_foreign_key("fk_gdpr_requests_merchant_id"),
        sa.CheckConstraint(
            "request_type IN ('data_request', 'customer_redact', 'shop_redact')",
            name="request_type_known",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'failed')",
            name="status_known",
        ),
        grant="SELECT, INSERT, UPDATE, DELETE",
    )
    op.create_index(
        "ix_gdpr_requests_merchant_type_created",
        "gdpr_requests",
        ["merchant_id", "request_type", "created_at"],
    )

    op.add_column("merchants", sa.Column("uninstalled_at", sa.DateTime(timezone=True)))

    # Audit entries are announced by Postgres itself when their transaction commits, so every
    # writer (resolvers, jobs, GDPR handlers) feeds the live admin stream without remembering
    # to publish, and a rolled-back entry is never announced. Audit writes are rare (staff and
    # GDPR actions), so NOTIFY's commit-time lock costs nothing that matters.
    op.execute(AUDIT_NOTIFY_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_logs_notify AFTER INSERT ON audit_logs "
        "FOR EACH ROW EXECUTE FUNCTION loyalnest_notify_audit_log()"
    )


AUDIT_CHANNEL = "loyalnest_audit_logs"
AUDIT_NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION loyalnest_notify_audit_log() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    -- Ids only (NOTIFY payloads are capped at 8000 bytes); listeners read the row.
    PERFORM pg_notify(
        '{AUDIT_CHANNEL}',
        json_build_object(
            'merchant_id', NEW.merchant_id, 'id', NEW.id, 'created_at', NEW.created_at
        )::text
    );
    RETURN NULL;
END
$fn$
"""


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_logs_notify ON audit_logs")
    op.execute("DROP FUNCTION IF EXISTS loyalnest_notify_audit_log()")
    op.drop_column("merchants", "uninstalled_at")
    op.drop_table("gdpr_requests")
    op.drop_table("webhook_receipts")
    ddl.revoke_from_app("DELETE", "audit_logs")
    ddl.revoke_from_app("UPDATE, DELETE", "api_logs")
    for index in (
        "ix_api_logs_merchant_customer",
        "ix_api_logs_merchant_status_topic",
        "ix_api_logs_pending_due",
    ):
        op.drop_index(index, table_name="api_logs")
    op.drop_constraint("ck_api_logs_attempts_not_negative", "api_logs")
    op.drop_constraint("ck_api_logs_status_known", "api_logs")
    for column in (
        "updated_at",
        "processed_at",
        "next_attempt_at",
        "last_error",
        "attempts",
        "shopify_customer_id",
        "payload_bytes",
        "payload_encrypted",
        "api_version",
        "triggered_at",
        "event_id",
        "webhook_id",
    ):
        op.drop_column("api_logs", column)
    op.alter_column("api_logs", "status", server_default=None)
    op.alter_column("api_logs", "duration_ms", nullable=False)
    op.alter_column("api_logs", "topic", new_column_name="operation")
