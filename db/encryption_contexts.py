"""The encryption contexts of encrypted columns, defined once: ``<table>.<column>``.

A context is bound into every ciphertext (AES-GCM associated data) and blind index, so a value
encrypted for one column cannot be decrypted as another's: each encrypted column has exactly
one context, and every reader and writer of that column uses this constant. Changing one makes
every stored value of its column unreadable: these strings are part of the data, not the code.
"""

from __future__ import annotations

from typing import Final

API_LOGS_PAYLOAD: Final = "api_logs.payload"
CUSTOMERS_EMAIL: Final = "customers.email"
CUSTOMERS_PHONE: Final = "customers.phone"
GDPR_REQUESTS_EXPORT: Final = "gdpr_requests.export"
MERCHANTS_API_TOKEN: Final = "merchants.api_token"  # noqa: S105 - a context, not a secret
PROGRAM_SETTINGS_NOTIFICATION_API_KEY: Final = "program_settings.notification_api_key"
REWARD_REDEMPTIONS_CODE: Final = "reward_redemptions.code"
# Keyed hashes (blind indexes) of a referral link visitor: IP, user agent, and the two together.
REFERRAL_EVENTS_VISITOR: Final = "referral_events.visitor"
# Keyed hashes of the shipping address and phone a referral is scored with (never stored).
REFERRALS_PARTY: Final = "referrals.party"
REFERRAL_PROGRAMS_ALERT_WEBHOOK: Final = "referral_programs.alert_webhook"
# Whom an advocate shared their link with: encrypted to be sent to, and as a keyed hash.
REFERRAL_SHARES_RECIPIENT: Final = "referral_shares.recipient"
# A referral's discount reward: the code, and the keyed hash it is drawn from.
REFERRAL_REWARDS_DISCOUNT_CODE: Final = "referral_rewards.discount_code"
# What a pending data request asks for, and an erased customer's identifier at a provider.
GDPR_REQUESTS_EXPORT_SPEC: Final = "gdpr_requests.export_spec"
GDPR_PROFILE_DELETIONS_IDENTIFIER: Final = "gdpr_profile_deletions.identifier"
