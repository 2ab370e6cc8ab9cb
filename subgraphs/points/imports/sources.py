"""Which file column feeds which customer field, per source: one declarative table each.

The column names are those the sources' own exports use (matched case-insensitively, around
spaces): Smile.io's customer export and its points-import template (``email``, ``points``),
the fields of Smile's customer object (``points_balance``, ``date_of_birth``, ``created_at``);
LoyaltyLion's customer export (``points_approved`` is what a customer can spend: pending
points are still in their approval period, so they are not carried over; ``merchant_id`` is
the platform's, i.e. Shopify's, customer id); Shopify's customer CSV export (it carries no
points: the import enrols the shop's customers). A custom import names its own columns.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from db.models import DataImportSource
from subgraphs.points.errors import PointsError, PointsErrorCode


class ImportField(enum.StrEnum):
    """What a file column may hold. Email, points, Shopify id, phone and country are stored;
    the dates, RFM score and lifecycle stage are validated, so a file that will not load
    elsewhere is caught here too, and not stored (the RFM columns belong to analytics, which
    recomputes them from orders)."""

    EMAIL = "email"
    POINTS = "points"
    SHOPIFY_CUSTOMER_ID = "shopify_customer_id"
    PHONE = "phone"
    COUNTRY_CODE = "country_code"
    SIGNED_UP_AT = "signed_up_at"
    BIRTHDAY = "birthday"
    RFM_SCORE = "rfm_score"
    LIFECYCLE_STAGE = "lifecycle_stage"
    # Shopify's "Accepts Email Marketing" (yes/no): recorded as the newsletter consent.
    ACCEPTS_EMAIL_MARKETING = "accepts_email_marketing"


# field -> the column names a source's export uses for it, in order of preference.
SourceMapping = Mapping[ImportField, Sequence[str]]

SMILE: SourceMapping = {
    ImportField.EMAIL: ("email",),
    ImportField.POINTS: ("points_balance", "points"),
    ImportField.BIRTHDAY: ("date_of_birth",),
    ImportField.SIGNED_UP_AT: ("created_at",),
}
LOYALTYLION: SourceMapping = {
    ImportField.EMAIL: ("email",),
    ImportField.POINTS: ("points_approved",),
    ImportField.SHOPIFY_CUSTOMER_ID: ("merchant_id",),
    ImportField.SIGNED_UP_AT: ("enrolled_at",),
    ImportField.BIRTHDAY: ("birthday",),
}
SHOPIFY: SourceMapping = {
    ImportField.EMAIL: ("email",),
    ImportField.SHOPIFY_CUSTOMER_ID: ("customer id",),
    ImportField.PHONE: ("phone", "default address phone"),
    ImportField.COUNTRY_CODE: ("default address country code",),
    ImportField.ACCEPTS_EMAIL_MARKETING: ("accepts email marketing", "accepts marketing"),
}
SOURCE_MAPPINGS: Mapping[DataImportSource, SourceMapping] = {
    DataImportSource.SMILE: SMILE,
    DataImportSource.LOYALTYLION: LOYALTYLION,
    DataImportSource.SHOPIFY: SHOPIFY,
}
REQUIRED = (ImportField.EMAIL,)


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Which position of each row holds which field, and the header's name for it."""

    positions: Mapping[ImportField, int]
    headers: Sequence[str]

    def column_of(self, field: ImportField) -> str:
        return self.headers[self.positions[field]]


def _key(header: str) -> str:
    return " ".join(header.strip().lower().split())


def _invalid_mapping(message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_IMPORT_MAPPING, "mapping", message)


def custom_mapping(columns: Mapping[str, str]) -> SourceMapping:
    """A merchant's mapping, file column -> field name, as a source mapping."""
    if not columns:
        raise _invalid_mapping("a custom import needs a mapping of file columns to fields")
    mapping: dict[ImportField, list[str]] = {}
    known = ", ".join(field.value for field in ImportField)
    for column, field_name in columns.items():
        try:
            field = ImportField(field_name.strip().lower())
        except ValueError:
            raise _invalid_mapping(f"unknown field {field_name!r}: use one of {known}") from None
        if field in mapping:
            raise _invalid_mapping(f"two columns map to {field.value}")
        mapping[field] = [_key(column)]
    return mapping


def source_mapping(source: DataImportSource, columns: Mapping[str, str] | None) -> SourceMapping:
    if source is DataImportSource.CUSTOM:
        return custom_mapping(columns or {})
    if columns:
        raise _invalid_mapping(f"a {source.value} import uses its own columns: send no mapping")
    return SOURCE_MAPPINGS[source]


def plan_columns(mapping: SourceMapping, headers: Sequence[str]) -> ColumnPlan:
    """Find each mapped field's column in the header row; a required one missing is refused."""
    by_key: dict[str, int] = {}
    for position, header in enumerate(headers):
        by_key.setdefault(_key(header), position)
    positions: dict[ImportField, int] = {}
    for field, names in mapping.items():
        found = next((by_key[name] for name in names if name in by_key), None)
        if found is not None:
            positions[field] = found
    for field in REQUIRED:
        if field not in positions:
            expected = " or ".join(repr(name) for name in mapping.get(field, (field.value,)))
            raise PointsError(
                PointsErrorCode.MISSING_IMPORT_COLUMN,
                "file",
                f"the file has no {field.value} column (expected {expected} in the header row)",
            )
    return ColumnPlan(positions, list(headers))
