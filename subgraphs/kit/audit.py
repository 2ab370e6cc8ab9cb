"""The vocabulary of the audit trail: every action LoyalNest writes to ``audit_logs`` (through
``kit.repository.insert_audit_log`` or ``AuditTrail``), and the webhook inbox events the live
admin stream adds. Writers take an ``AuditAction``, so an action no one declared cannot be
written; GraphQL exposes the same enum (``AuditAction`` in the admin subgraph)."""

from __future__ import annotations

import enum


class AuditAction(enum.StrEnum):
    # points: the ledger (one per kind of ledger write that is audited)
    POINTS_EARNED = "points_earned"
    POINTS_REDEEMED = "points_redeemed"
    POINTS_ADJUSTED = "points_adjusted"
    POINTS_REVERSED = "points_reversed"
    POINTS_EXPIRED = "points_expired"
    POINTS_REFUNDED = "points_refunded"
    # points: the program
    POINTS_CONFIG_UPDATED = "points_config_updated"
    TIER_CREATED = "tier_created"
    TIER_UPDATED = "tier_updated"
    TIER_DELETED = "tier_deleted"
    TIER_ASSIGNED = "tier_assigned"
    PREVIEW_SIMULATED = "preview_simulated"
    CAMPAIGN_CREATED = "campaign_created"
    CAMPAIGN_UPDATED = "campaign_updated"
    CAMPAIGN_DELETED = "campaign_deleted"
    REWARD_CREATED = "reward_created"
    REWARD_UPDATED = "reward_updated"
    REWARD_DELETED = "reward_deleted"
    EXPIRY_NOTIFICATION_SENT = "expiry_notification_sent"
    EXPIRY_NOTIFICATION_FAILED = "expiry_notification_failed"
    NOTIFICATION_SETTINGS_UPDATED = "notification_settings_updated"
    EMAIL_TEMPLATE_UPDATED = "email_template_updated"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    NOTIFICATION_SKIPPED = "notification_skipped"
    DATA_IMPORT_COMMITTED = "data_import_committed"
    DATA_IMPORT_REVERTED = "data_import_reverted"
    # referrals
    REFERRAL_CREATED = "referral_created"
    REFERRAL_PROGRAM_UPDATED = "referral_program_updated"
    REFERRAL_ATTRIBUTED = "referral_attributed"
    REFERRAL_COMPLETED = "referral_completed"
    SPOOF_DETECTED = "spoof_detected"
    REFERRAL_REVIEWED = "referral_reviewed"
    REFERRAL_REWARD_ISSUED = "referral_reward_issued"
    REFERRAL_REWARD_CANCELLED = "referral_reward_cancelled"
    # analytics
    RFM_THRESHOLDS_UPDATED = "rfm_thresholds_updated"
    CAMPAIGN_SUGGESTION_ACCEPTED = "campaign_suggestion_accepted"
    CAMPAIGN_SUGGESTION_DISMISSED = "campaign_suggestion_dismissed"
    STAFF_SHOPS_COMPARED = "staff_shops_compared"
    # admin: merchants, GDPR, the webhook inbox
    MERCHANT_ADDED = "merchant_added"
    APP_INSTALLED = "app_installed"
    MERCHANT_UNINSTALLED = "merchant_uninstalled"
    MERCHANT_REFERRAL_COMPLETED = "merchant_referral_completed"
    GDPR_DATA_REQUEST = "gdpr_data_request"
    GDPR_CUSTOMER_REDACTED = "gdpr_customer_redacted"
    GDPR_REQUEST_CREATED = "gdpr_request_created"
    GDPR_OPTED_OUT = "gdpr_opted_out"
    GDPR_RETENTION_PURGED = "gdpr_retention_purged"
    CONSENT_UPDATED = "consent_updated"
    WEBHOOK_RETRY = "webhook_retry"
    # Webhook inbox events: published live (never stored in the audit trail).
    WEBHOOK_RECEIVED = "webhook_received"
    WEBHOOK_RETRYING = "webhook_retrying"
    WEBHOOK_DONE = "webhook_done"
    WEBHOOK_FAILED = "webhook_failed"
