"""Typed models, one module per aggregate. Importing this package registers them all."""

from db.models.base import Base
from db.models.customer import Customer
from db.models.logs import ApiLog, AuditLog
from db.models.merchant import Merchant
from db.models.points import PointsTransaction, PointsTransactionKind
from db.models.referral import ReferralLink

__all__ = [
    "ApiLog",
    "AuditLog",
    "Base",
    "Customer",
    "Merchant",
    "PointsTransaction",
    "PointsTransactionKind",
    "ReferralLink",
]
