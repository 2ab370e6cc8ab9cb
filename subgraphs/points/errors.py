"""Expected failures of the points domains, and the checks several domains share; resolvers
turn a ``PointsError`` into a userError (``user_errors.PointsUserError``)."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from subgraphs.kit.domain import DomainError
from subgraphs.kit.repository import StaleVersion


class PointsErrorCode(enum.Enum):
    CUSTOMER_NOT_FOUND = "customer_not_found"
    INVALID_POINTS = "invalid_points"
    INVALID_REASON = "invalid_reason"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_EMAIL = "invalid_email"
    INVALID_QUERY = "invalid_query"
    EMAIL_TAKEN = "email_taken"
    INVALID_ORDER = "invalid_order"
    ORDER_REQUIRED = "order_required"
    ORDER_ALREADY_EARNED = "order_already_earned"
    ORDER_NOT_EARNED = "order_not_earned"
    UNSUPPORTED_CURRENCY = "unsupported_currency"
    INSUFFICIENT_POINTS = "insufficient_points"
    INVALID_SETTINGS = "invalid_settings"
    SETTINGS_VERSION_CONFLICT = "settings_version_conflict"
    VERSION_CONFLICT = "version_conflict"
    REWARD_NOT_FOUND = "reward_not_found"
    REWARD_UNAVAILABLE = "reward_unavailable"
    REWARD_LIMIT_REACHED = "reward_limit_reached"
    INVALID_REWARD = "invalid_reward"
    DISCOUNT_NOT_CREATED = "discount_not_created"
    TIER_NOT_FOUND = "tier_not_found"
    INVALID_TIER = "invalid_tier"
    TIER_RANK_TAKEN = "tier_rank_taken"
    CAMPAIGN_NOT_FOUND = "campaign_not_found"
    INVALID_CAMPAIGN = "invalid_campaign"
    INVALID_PREVIEW = "invalid_preview"
    INVALID_NOTIFICATION_SETTINGS = "invalid_notification_settings"
    API_KEY_REQUIRED = "api_key_required"
    NOTIFICATIONS_OFF = "notifications_off"
    INVALID_TEMPLATE = "invalid_template"
    MISSING_PLACEHOLDER = "missing_placeholder"
    UNKNOWN_PLACEHOLDER = "unknown_placeholder"
    MISSING_LOCALE = "missing_locale"
    INVALID_CONSENT = "invalid_consent"
    IMPORT_FILE_TOO_LARGE = "import_file_too_large"
    INVALID_IMPORT_FILE = "invalid_import_file"
    INVALID_IMPORT_MAPPING = "invalid_import_mapping"
    MISSING_IMPORT_COLUMN = "missing_import_column"
    IMPORT_HAS_ERRORS = "import_has_errors"
    IMPORT_NOT_FOUND = "import_not_found"
    IMPORT_NOT_REVERTIBLE = "import_not_revertible"
    IMPORT_UPLOAD_NOT_FOUND = "import_upload_not_found"


class PointsError(DomainError):
    """An expected failure the caller can fix; ``field`` names the offending input."""

    code: PointsErrorCode


def customer_not_found(field: str = "customerId") -> PointsError:
    return PointsError(PointsErrorCode.CUSTOMER_NOT_FOUND, field, "customer not found")


def idempotency_key_reused() -> PointsError:
    return PointsError(
        PointsErrorCode.IDEMPOTENCY_KEY_REUSED,
        "idempotencyKey",
        "this idempotencyKey was already used for a different request",
    )


@contextmanager
def version_checked(entity: str, expected_version: int | None) -> Iterator[None]:
    """A versioned update that found the row moved on (``StaleVersion``) is the client's
    VERSION_CONFLICT: someone else changed it since the client read ``expected_version``."""
    try:
        yield
    except StaleVersion as stale:
        raise PointsError(
            PointsErrorCode.VERSION_CONFLICT,
            "expectedVersion",
            f"the {entity} changed since version {expected_version} (it is at version "
            f"{stale.current_version} now); reload it and apply the change again",
        ) from None


def is_short_text(value: str, limit: int) -> bool:
    """Not blank, at most ``limit`` characters, no NUL (Postgres text cannot hold one)."""
    return bool(value.strip()) and len(value) <= limit and "\x00" not in value


def check_text(value: str, field: str, code: PointsErrorCode, limit: int) -> None:
    if not is_short_text(value, limit):
        raise PointsError(code, field, f"{field} must be 1 to {limit} characters")


def check_idempotency_key(key: str, limit: int) -> None:
    check_text(key, "idempotencyKey", PointsErrorCode.INVALID_IDEMPOTENCY_KEY, limit)


# Keys of the creates that are safe to retry (rewardCreate, campaignCreate, vipTierCreate).
MAX_CREATE_KEY_LENGTH = 255


def input_fingerprint(values: Mapping[str, object]) -> str:
    """What a create request asked for (its validated input), as a SHA-256 stored beside its
    idempotency key: a retry carries the same input, a different request under the key does not."""
    canonical = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_replay(stored_fingerprint: str | None, fingerprint: str) -> None:
    """The row found under a create's idempotency key answers this request only if the request
    is the same one; otherwise the key is being reused (IDEMPOTENCY_KEY_REUSED)."""
    if stored_fingerprint != fingerprint:
        raise idempotency_key_reused()
