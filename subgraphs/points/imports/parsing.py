"""Reading an import file: the CSV decoded, every row checked on its own and against the
others (an email twice), each problem kept at its row and column. Framework-free and
database-free: what needs the shop (existing customers) is the service's."""

from __future__ import annotations

import csv
import enum
import functools
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

import pycountry
from email_validator import EmailNotValidError, EmailSyntaxError, validate_email
from email_validator.rfc_constants import EMAIL_MAX_LENGTH
from email_validator.syntax import validate_email_local_part

from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.imports.sources import ColumnPlan, ImportField, SourceMapping, plan_columns
from subgraphs.points.ledger.write_path import MAX_POINTS_PER_TRANSACTION

MAX_FILE_BYTES = 10 * 1024 * 1024
LIFECYCLE_STAGES = frozenset({"new_lead", "repeat_buyer", "churned", "vip"})
_POINTS = re.compile(r"\d+")
_SHOPIFY_ID = re.compile(r"(?:gid://shopify/Customer/)?(\d{1,20})")
_PHONE = re.compile(r"\+?[0-9][0-9 ().\-]{4,24}")
_RFM_DIGITS = re.compile(r"([1-5])[-,/ ]?([1-5])[-,/ ]?([1-5])")
_RFM_KEYS = ("recency", "frequency", "monetary")


class RowErrorCode(enum.StrEnum):
    INVALID_EMAIL = "invalid_email"
    DUPLICATE_EMAIL = "duplicate_email"
    INVALID_POINTS = "invalid_points"
    INVALID_DATE = "invalid_date"
    INVALID_RFM_SCORE = "invalid_rfm_score"
    INVALID_LIFECYCLE_STAGE = "invalid_lifecycle_stage"
    INVALID_SHOPIFY_CUSTOMER_ID = "invalid_shopify_customer_id"
    DUPLICATE_SHOPIFY_CUSTOMER_ID = "duplicate_shopify_customer_id"
    SHOPIFY_CUSTOMER_ID_TAKEN = "shopify_customer_id_taken"
    INVALID_PHONE = "invalid_phone"
    INVALID_COUNTRY_CODE = "invalid_country_code"
    MALFORMED_ROW = "malformed_row"
    INVALID_MARKETING_CONSENT = "invalid_marketing_consent"


@dataclass(frozen=True, slots=True)
class RowError:
    """``row`` is the row as a spreadsheet numbers it (the header is row 1); ``column`` the
    header of the cell at fault (None when the row as a whole is)."""

    row: int
    column: str | None
    code: RowErrorCode
    message: str

    def to_json(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A row that validated on its own: what the import would apply."""

    row: int
    email: str
    points: int
    shopify_customer_id: str | None
    phone: str | None
    country_code: str | None
    # Shopify's "Accepts Email Marketing": True, False, or None when the file does not say.
    accepts_email_marketing: bool | None = None


@dataclass(slots=True)
class ParsedFile:
    plan: ColumnPlan
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    row_count: int = 0

    def reject(self, rows: set[int]) -> None:
        """Drop rows found at fault after the fact (against the shop, or duplicates)."""
        if rows:
            self.rows = [row for row in self.rows if row.row not in rows]


def _invalid_file(message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_IMPORT_FILE, "file", message)


def decode(content: bytes) -> str:
    if len(content) > MAX_FILE_BYTES:
        raise PointsError(
            PointsErrorCode.IMPORT_FILE_TOO_LARGE,
            "file",
            f"the file is {len(content):,} bytes; at most {MAX_FILE_BYTES:,} (10 MB) are accepted",
        )
    if b"\x00" in content:
        raise _invalid_file("the file contains NUL bytes: it is not a CSV text file")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _invalid_file(
            f"the file is not UTF-8 (byte {error.start}): export it as UTF-8"
        ) from None


def parse_file(content: bytes, mapping: SourceMapping) -> ParsedFile:
    """Every data row checked; the rows that validate, and each problem by row and column.
    Emails (and Shopify ids) that appear twice are errors at every row they appear on."""
    reader = csv.reader(io.StringIO(decode(content), newline=""))
    try:
        headers = next(reader)
    except StopIteration:
        raise _invalid_file("the file is empty: it needs a header row and data rows") from None
    except csv.Error as error:
        raise _invalid_file(f"the header row cannot be read: {error}") from None
    parsed = ParsedFile(plan_columns(mapping, headers))
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            parsed.row_count += 1
            _check_row(parsed, reader.line_num, values, len(headers))
    except csv.Error as error:
        raise _invalid_file(f"row {reader.line_num} cannot be read: {error}") from None
    if parsed.row_count == 0:
        raise _invalid_file("the file has a header row but no data rows")
    _reject_duplicates(parsed, ImportField.EMAIL, RowErrorCode.DUPLICATE_EMAIL)
    _reject_duplicates(
        parsed, ImportField.SHOPIFY_CUSTOMER_ID, RowErrorCode.DUPLICATE_SHOPIFY_CUSTOMER_ID
    )
    parsed.errors.sort(key=lambda error: error.row)
    return parsed


class _RowChecker:
    """The cells of one row, read field by field; each problem recorded once."""

    def __init__(self, plan: ColumnPlan, row: int, values: list[str]) -> None:
        self.plan = plan
        self.row = row
        self.values = values
        self.errors: list[RowError] = []

    def cell(self, field_: ImportField) -> str:
        position = self.plan.positions.get(field_)
        if position is None or position >= len(self.values):
            return ""
        return self.values[position].strip()

    def fail(self, field_: ImportField, code: RowErrorCode, message: str) -> None:
        self.errors.append(RowError(self.row, self.plan.column_of(field_), code, message))


def _check_row(parsed: ParsedFile, row: int, values: list[str], width: int) -> None:
    if len(values) > width:
        parsed.errors.append(
            RowError(
                row,
                None,
                RowErrorCode.MALFORMED_ROW,
                f"the row has {len(values)} values but the header has {width} columns "
                "(an unquoted comma?)",
            )
        )
        return
    check = _RowChecker(parsed.plan, row, values)
    email = _email(check)
    points = _points(check)
    shopify_id = _shopify_id(check)
    phone = _phone(check)
    country = _country(check)
    for date_field in (ImportField.SIGNED_UP_AT, ImportField.BIRTHDAY):
        _date(check, date_field)
    _rfm_score(check)
    _lifecycle(check)
    accepts = _accepts_marketing(check)
    if check.errors or email is None:
        parsed.errors.extend(check.errors)
        return
    parsed.rows.append(ImportRow(row, email, points, shopify_id, phone, country, accepts))


_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})


def _accepts_marketing(check: _RowChecker) -> bool | None:
    value = check.cell(ImportField.ACCEPTS_EMAIL_MARKETING).lower()
    if not value:
        return None
    if value in _YES or value in _NO:
        return value in _YES
    check.fail(
        ImportField.ACCEPTS_EMAIL_MARKETING,
        RowErrorCode.INVALID_MARKETING_CONSENT,
        "not yes or no",
    )
    return None


@functools.lru_cache(maxsize=65_536)
def _valid_domain(domain: str) -> str:
    """The domain of an address, checked and normalized once per domain: a file's addresses
    share few domains, and the domain's check (IDNA) is most of what a full check costs."""
    return validate_email(f"postmaster@{domain}", check_deliverability=False).domain


def valid_email(value: str) -> str:
    """``value`` as email-validator checks and normalizes it (lower-cased, as the blind index
    reads it); raises ``EmailNotValidError``."""
    local, at, domain = value.rpartition("@")
    if not at or not local:
        raise EmailSyntaxError("an email address has a local part, an @ and a domain")
    checked_local = validate_email_local_part(local)["local_part"]
    address = f"{checked_local}@{_valid_domain(domain)}"
    if len(address) > EMAIL_MAX_LENGTH:
        raise EmailSyntaxError(f"the address is longer than {EMAIL_MAX_LENGTH} characters")
    return address.lower()


def _email(check: _RowChecker) -> str | None:
    value = check.cell(ImportField.EMAIL)
    if not value:
        check.fail(ImportField.EMAIL, RowErrorCode.INVALID_EMAIL, "the email is missing")
        return None
    try:
        return valid_email(value)
    except EmailNotValidError as error:
        # The message never quotes the address: the error log is not encrypted, emails are.
        check.fail(ImportField.EMAIL, RowErrorCode.INVALID_EMAIL, f"not a valid email: {error}")
        return None


def _points(check: _RowChecker) -> int:
    value = check.cell(ImportField.POINTS)
    if not value:
        return 0
    if not _POINTS.fullmatch(value):
        check.fail(
            ImportField.POINTS,
            RowErrorCode.INVALID_POINTS,
            f"{value!r} is not a whole number of points >= 0 (no commas, signs or decimals)",
        )
        return 0
    points = int(value)
    if points > MAX_POINTS_PER_TRANSACTION:
        check.fail(
            ImportField.POINTS,
            RowErrorCode.INVALID_POINTS,
            f"{points} points is more than one entry may credit ({MAX_POINTS_PER_TRANSACTION})",
        )
        return 0
    return points


def _shopify_id(check: _RowChecker) -> str | None:
    # Shopify's export writes ids with a leading apostrophe, so spreadsheets keep them text.
    value = check.cell(ImportField.SHOPIFY_CUSTOMER_ID).lstrip("'")
    if not value:
        return None
    match = _SHOPIFY_ID.fullmatch(value)
    if match is None:
        check.fail(
            ImportField.SHOPIFY_CUSTOMER_ID,
            RowErrorCode.INVALID_SHOPIFY_CUSTOMER_ID,
            f"{value!r} is not a Shopify customer id (digits, or gid://shopify/Customer/…)",
        )
        return None
    return match.group(1)


def _phone(check: _RowChecker) -> str | None:
    value = check.cell(ImportField.PHONE).lstrip("'")
    if not value:
        return None
    if not _PHONE.fullmatch(value):
        check.fail(
            ImportField.PHONE, RowErrorCode.INVALID_PHONE, "not a phone number (digits, +, spaces)"
        )
        return None
    return value


def _country(check: _RowChecker) -> str | None:
    value = check.cell(ImportField.COUNTRY_CODE).upper()
    if not value:
        return None
    if len(value) != 2 or pycountry.countries.get(alpha_2=value) is None:
        check.fail(
            ImportField.COUNTRY_CODE,
            RowErrorCode.INVALID_COUNTRY_CODE,
            f"{value!r} is not an ISO 3166-1 alpha-2 country code",
        )
        return None
    return value


def _date(check: _RowChecker, field_: ImportField) -> None:
    value = check.cell(field_)
    if not value:
        return
    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value)
    except ValueError:
        check.fail(
            field_,
            RowErrorCode.INVALID_DATE,
            f"{value!r} is not a date (YYYY-MM-DD, or an ISO 8601 date and time)",
        )


def _rfm_score(check: _RowChecker) -> None:
    value = check.cell(ImportField.RFM_SCORE)
    if not value or _RFM_DIGITS.fullmatch(value) or _is_rfm_object(value):
        return
    check.fail(
        ImportField.RFM_SCORE,
        RowErrorCode.INVALID_RFM_SCORE,
        f'{value!r} is not an RFM score: three digits 1-5 ("534", "5-3-4") or '
        '{"recency": 5, "frequency": 3, "monetary": 4}',
    )


def _is_rfm_object(value: str) -> bool:
    try:
        document = json.loads(value)
    except ValueError:
        return False
    return (
        isinstance(document, dict)
        and set(document) == set(_RFM_KEYS)
        and all(type(score) is int and 1 <= score <= 5 for score in document.values())
    )


def _lifecycle(check: _RowChecker) -> None:
    value = check.cell(ImportField.LIFECYCLE_STAGE)
    if value and value.lower() not in LIFECYCLE_STAGES:
        check.fail(
            ImportField.LIFECYCLE_STAGE,
            RowErrorCode.INVALID_LIFECYCLE_STAGE,
            f"{value!r} is not a lifecycle stage: {', '.join(sorted(LIFECYCLE_STAGES))}",
        )


def _values_of(rows: list[ImportRow], field_: ImportField) -> Iterator[tuple[str, int]]:
    for row in rows:
        value = row.email if field_ is ImportField.EMAIL else row.shopify_customer_id
        if value is not None:
            yield value, row.row


def _reject_duplicates(parsed: ParsedFile, field_: ImportField, code: RowErrorCode) -> None:
    """A value on several rows: which row is right cannot be known, so each is an error."""
    rows_of: dict[str, list[int]] = {}
    for value, row in _values_of(parsed.rows, field_):
        rows_of.setdefault(value, []).append(row)
    duplicated: set[int] = set()
    for rows in rows_of.values():
        if len(rows) > 1:
            listed = ", ".join(str(row) for row in rows)
            for row in rows:
                duplicated.add(row)
                parsed.errors.append(
                    RowError(
                        row,
                        parsed.plan.column_of(field_),
                        code,
                        f"the same {field_.value} is on rows {listed}",
                    )
                )
    parsed.reject(duplicated)
