"""The referral program: links (one shareable code per advocate), their clicks and shares,
the referrals they bring (friends attributed, then converted), and the rewards of both sides."""

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    SettingsDocument,
    TextKey,
    Timestamps,
    created_at_column,
    customer_foreign_key,
    tenant_foreign_key,
)


class ReferralLink(Base):
    __tablename__ = "referral_links"
    __table_args__ = (
        customer_foreign_key("advocate_customer_id"),
        UniqueConstraint("merchant_id", "code"),
        UniqueConstraint("merchant_id", "advocate_customer_id"),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    advocate_customer_id: Mapped[str]
    code: Mapped[str]
    click_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[datetime] = created_at_column()


class ReferralProgram(SettingsDocument, Base):
    """A merchant's referral program: one validated JSON document (the referrals service
    validates it before writing, and reads it back through the same model)."""

    __tablename__ = "referral_programs"

    # The merchant's Slack incoming webhook for held referrals, AES-256-GCM encrypted
    # (db.crypto): whoever has the URL can post to their channel.
    alert_webhook_encrypted: Mapped[str | None]


class ReferralEventKind(enum.StrEnum):
    CLICK = "click"
    SHARE = "share"


class ReferralEvent(Base):
    """A click on (or a share of) a referral link. The visitor, IP and user agent are kept
    only as keyed hashes (HMAC with the app's blind-index key): enough to count a visitor
    once a day and to match an advocate's own device, never enough to recover either."""

    __tablename__ = "referral_events"
    __table_args__ = (
        tenant_foreign_key("link_id", "referral_links"),
        CheckConstraint("kind IN ('click', 'share')", name="kind_known"),
        # A visitor's clicks on one link count once a day.
        Index(
            "uq_referral_events_daily_click",
            "merchant_id",
            "link_id",
            "visitor_hash",
            "day",
            unique=True,
            postgresql_where=text("kind = 'click'"),
        ),
        Index("ix_referral_events_merchant_day", "merchant_id", "day"),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    link_id: Mapped[str]
    kind: Mapped[str]
    visitor_hash: Mapped[str]
    ip_hash: Mapped[str | None]
    user_agent_hash: Mapped[str | None]
    # The UTC day of the event: the dedupe window of clicks.
    day: Mapped[date] = mapped_column(Date)
    channel: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()


class ReferralStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    EXPIRED = "expired"
    REJECTED = "rejected"


class Referral(Timestamps, Base):
    """A friend attributed to an advocate's link: pending until the friend's first qualifying
    order completes it. A friend is referred once."""

    __tablename__ = "referrals"
    __table_args__ = (
        customer_foreign_key("advocate_customer_id"),
        customer_foreign_key("friend_customer_id"),
        tenant_foreign_key("link_id", "referral_links"),
        UniqueConstraint("merchant_id", "friend_customer_id"),
        CheckConstraint(
            "status IN ('pending', 'completed', 'expired', 'rejected')", name="status_known"
        ),
        CheckConstraint("advocate_customer_id <> friend_customer_id", name="not_self"),
        CheckConstraint("fraud_score BETWEEN 0 AND 1", name="fraud_score_range"),
        Index("ix_referrals_advocate", "merchant_id", "advocate_customer_id", "status"),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    link_id: Mapped[str]
    advocate_customer_id: Mapped[str]
    friend_customer_id: Mapped[str]
    status: Mapped[str]
    # How the friend was attributed: customer_create, order, discount_code, claim.
    source: Mapped[str]
    fraud_score: Mapped[Decimal] = mapped_column(Numeric(4, 3), server_default="0")
    # [{"reason": "same_ip", "weight": "0.6", "detail": "..."}]: the score, explained.
    fraud_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    qualifying_order_id: Mapped[str | None]
    # The qualifying order's subtotal (shop currency), and what refunds have taken off it:
    # below the program's minimum again, the advocate's unreleased reward is cancelled.
    qualifying_subtotal: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    refunded_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReferralRewardStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its release time (the advocate's hold period)
    HELD = "held"  # the referral scored as suspicious: waiting for the merchant's review
    ISSUED = "issued"
    CANCELLED = "cancelled"  # the qualifying order was refunded or cancelled in time
    FAILED = "failed"  # a discount Shopify refused (``last_error`` says why)


class ReferralReward(Timestamps, Base):
    """What one side of a completed referral gets, issued once (its ledger key is
    ``referral:{referral_id}:{side}``)."""

    __tablename__ = "referral_rewards"
    __table_args__ = (
        tenant_foreign_key("referral_id", "referrals"),
        UniqueConstraint("merchant_id", "referral_id", "side"),
        CheckConstraint("side IN ('advocate', 'friend')", name="side_known"),
        CheckConstraint(
            "status IN ('pending', 'held', 'issued', 'cancelled', 'failed')", name="status_known"
        ),
        CheckConstraint(
            "(kind = 'points' AND points > 0) OR (kind <> 'points' AND points IS NULL)",
            name="points_match_kind",
        ),
        Index(
            "ix_referral_rewards_due",
            "release_at",
            postgresql_where=text("status = 'pending'"),
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    referral_id: Mapped[str]
    side: Mapped[str]
    # points, percentage, fixed_amount, free_shipping
    kind: Mapped[str]
    points: Mapped[int | None] = mapped_column(BigInteger)
    value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    status: Mapped[str]
    release_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A discount reward: its code (AES-256-GCM, only its owner reads it) and Shopify's id of
    # the discount (None for a shop without a Shopify connection: the code is a sandbox one).
    discount_code_encrypted: Mapped[str | None]
    discount_id: Mapped[str | None]
    last_error: Mapped[str | None]


class ReferralShareStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for the worker (or for its next try)
    SENT = "sent"
    FAILED = "failed"  # given up: refused by the provider, or unwell through every try


class ReferralShare(Timestamps, Base):
    """An advocate sharing their link with one person on one channel, and its delivery: the
    worker sends it once (its id is the provider's idempotency key) and records the outcome.
    The recipient is kept encrypted (AES-256-GCM) to be sent to, and as a keyed hash."""

    __tablename__ = "referral_shares"
    __table_args__ = (
        customer_foreign_key("advocate_customer_id"),
        tenant_foreign_key("link_id", "referral_links"),
        UniqueConstraint(
            "merchant_id",
            "advocate_customer_id",
            "idempotency_key",
            name="uq_referral_shares_advocate_idempotency_key",
        ),
        CheckConstraint("channel IN ('email', 'sms', 'whatsapp')", name="channel_known"),
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status_known"),
        Index("ix_referral_shares_advocate", "merchant_id", "advocate_customer_id", "created_at"),
        Index(
            "ix_referral_shares_queued",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    link_id: Mapped[str]
    advocate_customer_id: Mapped[str]
    channel: Mapped[str]
    recipient_encrypted: Mapped[str]
    recipient_hash: Mapped[str]
    locale: Mapped[str]
    # What is sent, rendered when the advocate shared (the program's text then, the link).
    subject: Mapped[str]
    body: Mapped[str]
    idempotency_key: Mapped[str]
    status: Mapped[str]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None]
    next_attempt_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
