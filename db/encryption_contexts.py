"""Every encryption context of the application, named once.

A context is bound to a ciphertext as associated data (``FieldCipher.encrypt``): a value
copied into another column fails to decrypt, so each encrypted column has exactly one
context, and every reader and writer of that column must use this constant.
"""

from __future__ import annotations

from typing import Final

CUSTOMER_EMAIL: Final = "customers.email"
CUSTOMER_PHONE: Final = "customers.phone"
REDEMPTION_CODE: Final = "reward_redemptions.code"
MERCHANT_API_TOKEN: Final = "merchants.api_token"  # noqa: S105 - a context name, not a secret
NOTIFICATION_API_KEY: Final = "program_settings.notification_api_key"
WEBHOOK_PAYLOAD: Final = "api_logs.payload"
GDPR_EXPORT: Final = "gdpr_requests.export"
