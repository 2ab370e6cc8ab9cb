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

from db import ddl

revision = "0014"
down_revision = "0013"

TABLES = ("notification_settings", "email_templates", "notification_deliveries", "consents")
MESSAGE_TYPES = (
    "'points_earned', 'reward_redeemed', 'tier_upgraded', 'referral_completed', "
    "'expiry_reminder', 'gdpr_done'"
)


def upgrade() -> None:
    ddl.create_tenant_table(
        "notification_settings",
        ddl.merchant_id_column(),
        sa.Column("sender_name", sa.Text),
        sa.Column("sender_email", sa.Text),
        sa.Column(
            "channels", sa.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{email}'")
        ),
        ddl.version_column(),
        *ddl.timestamps(),
        sa.PrimaryKeyConstraint("merchant_id"),
        ddl.merchant_foreign_key("fk_notification_settings_merchant_id"),
        sa.CheckConstraint(
            "channels <@ ARRAY['email', 'sms']::text[] AND cardinality(channels) > 0",
            name="channels_known",
        ),
        grant="SELECT, INSERT, UPDATE",
    )
    ddl.create_tenant_table(
        "email_templates",
        *ddl.entity_key(),
        sa.Column("message_type", sa.Text, nullable=False),
        sa.Column("locale", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        *ddl.timestamps(),
        ddl.merchant_foreign_key("fk_email_templates_merchant_id"),
        sa.UniqueConstraint(
            "merchant_id",
            "message_type",
            "locale",
            name="uq_email_templates_merchant_id_message_type_locale",
        ),
        sa.CheckConstraint(f"message_type IN ({MESSAGE_TYPES})", name="message_type_known"),
        sa.CheckConstraint("locale IN ('en', 'es', 'fr', 'ar', 'he')", name="locale_known"),
        grant="SELECT, INSERT, UPDATE",
    )
    ddl.create_tenant_table(
        "notification_deliveries",
        *ddl.entity_key(),
        sa.Column("message_type", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("locale", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        # A code (rejected_4xx, unavailable, no_consent, ...), never the provider's answer,
        # which may quote the address.
        sa.Column("reason", sa.Text),
        ddl.now_column("created_at"),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        ddl.customer_foreign_key(),
        sa.UniqueConstraint(
            "merchant_id",
            "message_type",
            "event_id",
            name="uq_notification_deliveries_merchant_id_message_type_event_id",
        ),
        sa.CheckConstraint(f"message_type IN ({MESSAGE_TYPES})", name="message_type_known"),
        sa.CheckConstraint("status IN ('sent', 'failed', 'skipped')", name="status_known"),
        grant="SELECT, INSERT, UPDATE",
    )
    op.create_index(
        "ix_notification_deliveries_merchant_created",
        "notification_deliveries",
        ["merchant_id", "created_at", "id"],
    )
    ddl.create_tenant_table(
        "consents",
        *ddl.entity_key(),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("consent_type", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("text_version", sa.Text),
        sa.Column("ip_hash", sa.Text),
        ddl.now_column("created_at"),
        ddl.customer_foreign_key(),
        sa.CheckConstraint(
            "consent_type IN ('newsletter', 'rfm_tracking', 'referrals')", name="type_known"
        ),
        sa.CheckConstraint("status IN ('granted', 'revoked')", name="status_known"),
        sa.CheckConstraint(
            "source IN ('widget', 'import', 'shopify_accepts_marketing', 'staff')",
            name="source_known",
        ),
        # History, never edited; deleted only with the customer's data (GDPR erasure).
        grant="SELECT, INSERT, DELETE",
    )
    op.create_index(
        "ix_consents_customer_type",
        "consents",
        ["merchant_id", "customer_id", "consent_type", "created_at"],
    )
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
