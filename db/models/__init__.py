"""Typed models, one module per aggregate. Importing this package registers them all."""

from db.models.analytics import (
    CustomerSegment,
    OrderChannel,
    OrderFact,
    OrderFactSource,
    RfmBenchmark,
    RfmScoreHistory,
    RfmSettings,
    RfmShopAverage,
)
from db.models.api_key import MerchantApiKey
from db.models.backfill import BackfillStatus, BackfillStep, ShopifyBackfill
from db.models.base import Base
from db.models.campaign import BonusCampaign, CampaignKind
from db.models.churn import ChurnModel, ChurnModelStatus, LifecycleStage
from db.models.consent import Consent
from db.models.customer import Customer
from db.models.data_import import (
    UNFINISHED_IMPORT_STATUSES,
    DataImport,
    DataImportRow,
    DataImportSource,
    DataImportStatus,
    StagedUpload,
)
from db.models.deletion import Deletion
from db.models.gdpr import GdprExportDownload, GdprProfileDeletion, GdprRequest
from db.models.logs import ApiLog, AuditLog, WebhookReceipt
from db.models.merchant import Merchant
from db.models.merchant_referral import MerchantReferral
from db.models.notification import (
    EmailTemplate,
    KlaviyoProfileState,
    NotificationCursor,
    NotificationDelivery,
    NotificationSettings,
)
from db.models.points import PointsTransaction, PointsTransactionKind
from db.models.program import ProgramSettings, ProgramVersion
from db.models.referral import (
    Referral,
    ReferralEvent,
    ReferralEventKind,
    ReferralLink,
    ReferralProgram,
    ReferralReward,
    ReferralRewardStatus,
    ReferralShare,
    ReferralShareStatus,
    ReferralStatus,
)
from db.models.reminder import ExpiryReminder
from db.models.reward import RedemptionStatus, Reward, RewardKind, RewardRedemption
from db.models.roi import RoiMetrics
from db.models.suggestion import CampaignSuggestion, SuggestionStatus
from db.models.tier import VipTier

__all__ = [
    "UNFINISHED_IMPORT_STATUSES",
    "ApiLog",
    "AuditLog",
    "BackfillStatus",
    "BackfillStep",
    "Base",
    "BonusCampaign",
    "CampaignKind",
    "CampaignSuggestion",
    "ChurnModel",
    "ChurnModelStatus",
    "Consent",
    "Customer",
    "CustomerSegment",
    "DataImport",
    "DataImportRow",
    "DataImportSource",
    "DataImportStatus",
    "Deletion",
    "EmailTemplate",
    "ExpiryReminder",
    "GdprExportDownload",
    "GdprProfileDeletion",
    "GdprRequest",
    "KlaviyoProfileState",
    "LifecycleStage",
    "Merchant",
    "MerchantApiKey",
    "MerchantReferral",
    "NotificationCursor",
    "NotificationDelivery",
    "NotificationSettings",
    "OrderChannel",
    "OrderFact",
    "OrderFactSource",
    "PointsTransaction",
    "PointsTransactionKind",
    "ProgramSettings",
    "ProgramVersion",
    "RedemptionStatus",
    "Referral",
    "ReferralEvent",
    "ReferralEventKind",
    "ReferralLink",
    "ReferralProgram",
    "ReferralReward",
    "ReferralRewardStatus",
    "ReferralShare",
    "ReferralShareStatus",
    "ReferralStatus",
    "Reward",
    "RewardKind",
    "RewardRedemption",
    "RfmBenchmark",
    "RfmScoreHistory",
    "RfmSettings",
    "RfmShopAverage",
    "RoiMetrics",
    "ShopifyBackfill",
    "StagedUpload",
    "SuggestionStatus",
    "VipTier",
    "WebhookReceipt",
]
