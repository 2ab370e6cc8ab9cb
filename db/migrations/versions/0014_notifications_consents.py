"""Notifications that send, consents, and GDPR requests filed by the merchant.

- ``notification_settings``: the sender and channels of a merchant's customer notifications
  (the provider stays in ``program_settings.config`` and its API key, encrypted, in
  ``program_settings.notification_api_key_encrypted``, where the jobs already read them).
- ``email_templates``: a merchant's own text of a message type in one locale (the built-in
  text applies where there is none).
- ``notification_deliveries``: the log of every message sent or skipped, one row per message
  type and event (the event id is also the provider's dedupe key).
- ``consents``: every grant and revocation of newsletter, RFM tracking and referral consent,
  with its source, the text version shown and a keyed hash of the IP (append-only; the
  latest row per type is the customer's current choice).
- ``gdpr_requests`` also holds CCPA opt-outs and requests the merchant files
  (``gdprRequestCreate``), told apart by ``source``.

All hash-partitioned by merchant and row-level secured like every tenant table.
"""

import sqlalchemy as sa
from alembic import op

from db.partitions import hash_partitions, tenant_isolation
from db.session import APP_ROLE

revision = "0014"
down_revision = "0013"

TABLES = ("notification_settings", "email_templates", "notification_deliveries", "consents")
MESSAGE_TYPES = (
    "'points_earned', 'reward_redeemed', 'tier_upgraded', 'referral_completed', "
    "'expiry_reminder', 'gdpr_done'"
)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
    )


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["merchant_id", "customer_id"],
        ["customers.merchant_id", "customers.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_merchant_id_customer_id_customers",
    )


def _merchant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["merchant_id"], ["merchants.id"], ondelete="CASCADE", name=f"fk_{table}_merchant_id"
    )


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("sender_name", sa.Text),
        sa.Column("sender_email", sa.Text),
        sa.Column(
            "channels", sa.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{email}'")
        ),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id", name="pk_notification_settings"),
        _merchant_fk("notification_settings"),
        sa.CheckConstraint(
            "channels <@ ARRAY['email', 'sms']::text[] AND cardinality(channels) > 0",
            name="channels_known",
        ),
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_table(
        "email_templates",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("message_type", sa.Text, nullable=False),
        sa.Column("locale", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_email_templates"),
        _merchant_fk("email_templates"),
        sa.UniqueConstraint(
            "merchant_id",
            "message_type",
            "locale",
            name="uq_email_templates_merchant_id_message_type_locale",
        ),
        sa.CheckConstraint(f"message_type IN ({MESSAGE_TYPES})", name="message_type_known"),
        sa.CheckConstraint("locale IN ('en', 'es', 'fr', 'ar', 'he')", name="locale_known"),
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("message_type", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("locale", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        # A code (rejected_4xx, unavailable, no_consent, ...), never the provider's answer,
        # which may quote the address.
        sa.Column("reason", sa.Text),
        _now("created_at"),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_notification_deliveries"),
        _customer_fk("notification_deliveries"),
        sa.UniqueConstraint(
            "merchant_id",
            "message_type",
            "event_id",
            name="uq_notification_deliveries_merchant_id_message_type_event_id",
        ),
        sa.CheckConstraint(f"message_type IN ({MESSAGE_TYPES})", name="message_type_known"),
        sa.CheckConstraint("status IN ('sent', 'failed', 'skipped')", name="status_known"),
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_index(
        "ix_notification_deliveries_merchant_created",
        "notification_deliveries",
        ["merchant_id", "created_at", "id"],
    )
    op.create_table(
        "consents",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("consent_type", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("text_version", sa.Text),
        sa.Column("ip_hash", sa.Text),
        _now("created_at"),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_consents"),
        _customer_fk("consents"),
        sa.CheckConstraint(
            "consent_type IN ('newsletter', 'rfm_tracking', 'referrals')", name="type_known"
        ),
        sa.CheckConstraint("status IN ('granted', 'revoked')", name="status_known"),
        sa.CheckConstraint(
            "source IN ('widget', 'import', 'shopify_accepts_marketing', 'staff')",
            name="source_known",
        ),
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_index(
        "ix_consents_customer_type",
        "consents",
        ["merchant_id", "customer_id", "consent_type", "created_at"],
    )
    for table in TABLES:
        for statement in hash_partitions(table) + tenant_isolation(table):
            op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON notification_settings TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON email_templates TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON notification_deliveries TO {APP_ROLE}")
    # History, never edited; deleted only with the customer's data (GDPR erasure).
    op.execute(f"GRANT SELECT, INSERT, DELETE ON consents TO {APP_ROLE}")
    op.drop_constraint(op.f("ck_gdpr_requests_request_type_known"), "gdpr_requests", type_="check")
    op.create_check_constraint(
        "request_type_known",
        "gdpr_requests",
        "request_type IN ('data_request', 'customer_redact', 'shop_redact', 'ccpa_opt_out')",
    )


def downgrade() -> None:
    op.execute("DELETE FROM gdpr_requests WHERE request_type = 'ccpa_opt_out'")
    op.drop_constraint(op.f("ck_gdpr_requests_request_type_known"), "gdpr_requests", type_="check")
    op.create_check_constraint(
        "request_type_known",
        "gdpr_requests",
        "request_type IN ('data_request', 'customer_redact', 'shop_redact')",
    )
    for table in reversed(TABLES):
        op.drop_table(table)
