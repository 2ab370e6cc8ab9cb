"""Notifications sent on domain events, and the Klaviyo profile sync:

- ``notification_settings.message_types``: the message types a merchant's flows send, each
  with the moment it was switched on (events from before it are never sent); merchants with
  settings already get the types that are on by default, from now. ``profile_sync``: keep
  loyalty properties on Klaviyo profiles (on unless switched off).
- ``notification_deliveries.attempts``: how many times a message was tried.
- ``notification_cursors``: how far each flow has read a merchant's domain events.
- ``klaviyo_profile_states``: a digest of what each Klaviyo profile was last sent.
- ``gdpr_requests.merchant_notified_at``: when the merchant was told a request was carried
  out; requests completed before this migration count as told (no burst of old notices).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db import ddl

revision = "0023"
down_revision = "0022"

# What is on by default (points.notifications.service.DEFAULT_MESSAGE_TYPES at the time).
DEFAULT_ON = (
    "reward_redeemed",
    "tier_upgraded",
    "referral_completed",
    "expiry_reminder",
    "gdpr_done",
)


def upgrade() -> None:
    op.add_column(
        "notification_settings",
        sa.Column("message_types", JSONB, nullable=False, server_default=sa.text("'{}'")),
    )
    op.add_column(
        "notification_settings",
        sa.Column("profile_sync", sa.Boolean, nullable=False, server_default=sa.text("true")),
    )
    op.execute(
        sa.text(
            "UPDATE notification_settings SET message_types ="
            " (SELECT jsonb_object_agg(kind, to_jsonb(now())) FROM unnest(:kinds) AS kind)"
        ).bindparams(sa.bindparam("kinds", list(DEFAULT_ON), type_=sa.ARRAY(sa.Text)))
    )
    op.add_column(
        "notification_deliveries",
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    )
    ddl.create_tenant_table(
        "notification_cursors",
        ddl.merchant_id_column(),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False),
        ddl.now_column("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id", "stream"),
        ddl.merchant_foreign_key(),
        grant="SELECT, INSERT, UPDATE",
    )
    ddl.create_tenant_table(
        "klaviyo_profile_states",
        ddl.merchant_id_column(),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("properties_digest", sa.Text, nullable=False),
        ddl.now_column("pushed_at"),
        sa.PrimaryKeyConstraint("merchant_id", "customer_id"),
        ddl.customer_foreign_key(),
        grant="SELECT, INSERT, UPDATE, DELETE",
    )
    op.add_column("gdpr_requests", sa.Column("merchant_notified_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE gdpr_requests SET merchant_notified_at = completed_at"
        " WHERE completed_at IS NOT NULL"
    )
    op.create_index(
        "ix_gdpr_requests_unnotified",
        "gdpr_requests",
        ["completed_at"],
        postgresql_where=sa.text("completed_at IS NOT NULL AND merchant_notified_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_gdpr_requests_unnotified", table_name="gdpr_requests")
    op.drop_column("gdpr_requests", "merchant_notified_at")
    op.drop_table("klaviyo_profile_states")
    op.drop_table("notification_cursors")
    op.drop_column("notification_deliveries", "attempts")
    op.drop_column("notification_settings", "profile_sync")
    op.drop_column("notification_settings", "message_types")
