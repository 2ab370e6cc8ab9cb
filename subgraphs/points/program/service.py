"""A merchant's points program: earning rules, multipliers, channels, currencies and expiry.

Stored as one JSON document per merchant and always read back through ``ProgramConfig``, so a
document written by an older release is validated (and defaulted) exactly like a new one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.kit.audit import AuditAction
from subgraphs.kit.validation import error_location
from subgraphs.kit.versioned_documents import save_new_version
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.program.repository import ProgramRepository, forget_program_versions

MAX_MULTIPLIER = Decimal(10)
CURRENCY_CODE_PATTERN = r"^[A-Z]{3}$"


class Rounding(enum.StrEnum):
    """How fractional points of an order line become whole points."""

    DOWN = "down"
    NEAREST = "nearest"
    UP = "up"


class Channel(enum.StrEnum):
    ONLINE = "online"
    POS = "pos"


class ExpiryKind(enum.StrEnum):
    NONE = "none"
    # Each credit expires N days after it was earned; spending uses the oldest points first.
    AFTER_EARNING = "after_earning"
    # The whole balance expires after N days without any earning or spending.
    INACTIVITY = "inactivity"


class AwardOn(enum.StrEnum):
    """Which order webhook awards purchase points (the other one is then a no-op)."""

    ORDER_CREATED = "order_created"
    ORDER_PAID = "order_paid"


class NotificationProvider(enum.StrEnum):
    NONE = "none"
    KLAVIYO = "klaviyo"
    POSTSCRIPT = "postscript"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Points = Annotated[int, Field(ge=0, le=1_000_000)]
Multiplier = Annotated[Decimal, Field(ge=1, le=MAX_MULTIPLIER, decimal_places=2)]


class GoalSpend(_Strict):
    """Spend at least ``threshold`` (shop currency) in one order, earn ``points`` on top."""

    threshold: Annotated[Decimal, Field(gt=0, decimal_places=2)]
    points: Annotated[int, Field(gt=0, le=1_000_000)]


class EarningRules(_Strict):
    purchase_points_per_unit: Annotated[Decimal, Field(ge=0, le=1000, decimal_places=2)] = Decimal(
        10
    )
    signup: Points = 200
    newsletter: Points = 100
    review: Points = 100
    birthday: Points = 200
    social_follow: Points = 50
    goal_spend: GoalSpend | None = None


class FirstPurchaseMultiplier(_Strict):
    """A dynamic multiplier for a first order placed soon after the account was created."""

    multiplier: Multiplier = Decimal(2)
    within_hours: Annotated[int, Field(gt=0, le=24 * 365)] = 24


class ExpiryPolicy(_Strict):
    kind: ExpiryKind = ExpiryKind.NONE
    days: Annotated[int, Field(gt=0, le=3650)] | None = None

    @model_validator(mode="after")
    def _days_match_kind(self) -> ExpiryPolicy:
        if self.kind is ExpiryKind.NONE and self.days is not None:
            raise ValueError("days must be empty when points never expire")
        if self.kind is not ExpiryKind.NONE and self.days is None:
            raise ValueError(f"days is required for expiry policy {self.kind.value}")
        return self


class Currencies(_Strict):
    """The shop currency and, for each presentment currency, units per one shop-currency unit."""

    base: Annotated[str, Field(pattern=CURRENCY_CODE_PATTERN)] = "USD"
    rates: dict[str, Annotated[Decimal, Field(gt=0, le=1_000_000)]] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _codes_are_iso(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = [code for code in rates if not re.fullmatch(CURRENCY_CODE_PATTERN, code)]
        if bad:
            raise ValueError(f"not ISO 4217 currency codes: {', '.join(sorted(bad))}")
        return rates

    @property
    def supported(self) -> list[str]:
        return [self.base, *sorted(code for code in self.rates if code != self.base)]

    def rate(self, currency: str) -> Decimal | None:
        """Units of ``currency`` per shop-currency unit; None when not configured."""
        if currency == self.base:
            return Decimal(1)
        return self.rates.get(currency)


class ProgramConfig(_Strict):
    points_name: Annotated[str, Field(min_length=1, max_length=40)] = "Points"
    earning: EarningRules = EarningRules()
    rounding: Rounding = Rounding.DOWN
    # RFM segment name -> multiplier, e.g. {"Champions": 1.5}.
    rfm_multipliers: dict[Annotated[str, Field(min_length=1, max_length=60)], Multiplier] = Field(
        default_factory=lambda: {"Champions": Decimal("1.5")}
    )
    first_purchase: FirstPurchaseMultiplier | None = FirstPurchaseMultiplier()
    # Several multipliers multiply; the product is capped here so stacking stays predictable.
    max_multiplier: Multiplier = Decimal(5)
    channels: frozenset[Channel] = frozenset({Channel.ONLINE, Channel.POS})
    award_on: AwardOn = AwardOn.ORDER_PAID
    expiry: ExpiryPolicy = ExpiryPolicy()
    currencies: Currencies = Currencies()
    notifications: NotificationProvider = NotificationProvider.NONE

    @field_validator("channels")
    @classmethod
    def _at_least_one_channel(cls, channels: frozenset[Channel]) -> frozenset[Channel]:
        if not channels:
            raise ValueError("at least one sales channel must earn points")
        return channels


DEFAULT_CONFIG = ProgramConfig()


def parse_config(document: dict[str, Any]) -> ProgramConfig:
    return ProgramConfig.model_validate(document)


def validate_config(document: dict[str, Any]) -> ProgramConfig:
    """The document as a config, or a PointsError naming the first invalid field."""
    try:
        return parse_config(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = error_location(first, "settings")
        raise PointsError(
            PointsErrorCode.INVALID_SETTINGS, where, f"{where}: {first['msg']}"
        ) from None


# Maps the merchant edits as one list: an update replaces them instead of merging entries.
_REPLACED_WHOLE = frozenset({"rfm_multipliers", "rates"})


def merge_changes(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if (
            isinstance(value, dict)
            and isinstance(base.get(key), dict)
            and key not in _REPLACED_WHOLE
        ):
            merged[key] = merge_changes(base[key], value)
        else:
            merged[key] = value
    return merged


async def program_config(session: AsyncSession, merchant_id: str) -> ProgramConfig:
    document = await ProgramRepository(session, merchant_id).config()
    return DEFAULT_CONFIG if document is None else parse_config(document)


async def program_config_with_version(
    session: AsyncSession, merchant_id: str
) -> tuple[ProgramConfig, int]:
    document, version = await ProgramRepository(session, merchant_id).document()
    return (DEFAULT_CONFIG if document is None else parse_config(document)), version


def _settings_changed_since(expected_version: int | None) -> Callable[[int], PointsError]:
    def stale(version: int) -> PointsError:
        return PointsError(
            PointsErrorCode.SETTINGS_VERSION_CONFLICT,
            "expectedVersion",
            f"settings changed since version {expected_version} (now {version}); reload them",
        )

    return stale


async def update_program_config(
    write: WriteContext, changes: dict[str, Any], *, expected_version: int | None = None
) -> tuple[ProgramConfig, int]:
    """Merge ``changes`` over the current config, validate, store. ``expected_version`` guards
    against overwriting someone else's newer save."""

    def merged(current: dict[str, Any] | None) -> ProgramConfig:
        base = (DEFAULT_CONFIG if current is None else parse_config(current)).model_dump(
            mode="json"
        )
        return validate_config(merge_changes(base, changes))

    saved = await save_new_version(
        write,
        ProgramRepository(write.session, write.merchant_id),
        changes=changes,
        apply=merged,
        expected_version=expected_version,
        stale=_settings_changed_since(expected_version),
        action=AuditAction.POINTS_CONFIG_UPDATED,
    )
    # An award later in this transaction asks the settings afresh.
    forget_program_versions(write.session)
    return saved
