"""Reading the sources' files: each source's columns, and every kind of bad row reported at
its row and column."""

from __future__ import annotations

from typing import Any

import pytest
from email_validator import EmailNotValidError, validate_email

from db.models import DataImportSource
from subgraphs.kit.pagination import encode_cursor, page_request
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.imports.parsing import MAX_FILE_BYTES, parse_file, valid_email
from subgraphs.points.imports.sources import source_mapping
from subgraphs.points.imports.types import error_log_page
from tests.subgraphs.points.imports.helpers import BAD_ROWS_MAPPING, sample


def _parse(source: DataImportSource, name: str, mapping: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_file(sample(name), source_mapping(source, mapping))


def test_smile_export_gives_email_and_points_balance() -> None:
    parsed = _parse(DataImportSource.SMILE, "smile.csv")
    assert parsed.errors == []
    assert [(row.row, row.email, row.points) for row in parsed.rows] == [
        (2, "jane@example.com", 1200),
        (3, "john.roe@example.com", 350),
        (4, "ana@example.com", 0),
    ]


def test_loyaltylion_export_carries_approved_points_and_the_shopify_id() -> None:
    parsed = _parse(DataImportSource.LOYALTYLION, "loyaltylion.csv")
    assert parsed.errors == []
    assert [(row.email, row.points, row.shopify_customer_id) for row in parsed.rows] == [
        ("li@example.com", 800, "6254110048421"),
        ("mo@example.com", 0, "6254110048422"),
        ("nu@example.com", 2750, "6254110048423"),
    ]


def test_shopify_export_enrols_customers_with_their_ids_phones_and_countries() -> None:
    parsed = _parse(DataImportSource.SHOPIFY, "shopify.csv")
    assert parsed.errors == []
    first, second = parsed.rows
    assert (first.shopify_customer_id, first.phone, first.country_code, first.points) == (
        "7012345678901",
        "+4791234567",
        "NO",
        0,
    )
    assert (second.email, second.phone) == ("kari@example.com", None)


def test_custom_mapping_names_its_own_columns() -> None:
    mapping = {
        "Mail": "email",
        "Balance": "points",
        "RFM": "rfm_score",
        "Stage": "lifecycle_stage",
        "Joined": "signed_up_at",
    }
    parsed = _parse(DataImportSource.CUSTOM, "custom.csv", mapping)
    assert parsed.errors == []
    assert [(row.email, row.points) for row in parsed.rows] == [
        ("ivy@example.com", 400),
        ("max@example.com", 25),
    ]


def test_every_kind_of_bad_row_is_reported_at_its_row_and_column() -> None:
    parsed = _parse(DataImportSource.CUSTOM, "bad_rows.csv", BAD_ROWS_MAPPING)
    found = {(error.row, error.column, error.code.value) for error in parsed.errors}
    assert found == {
        (3, "email", "invalid_email"),
        (4, "email", "duplicate_email"),
        (5, "email", "duplicate_email"),
        (6, "points", "invalid_points"),
        (7, "points", "invalid_points"),
        (8, "points", "invalid_points"),
        (9, "joined", "invalid_date"),
        (10, "birthday", "invalid_date"),
        (11, "rfm", "invalid_rfm_score"),
        (12, "stage", "invalid_lifecycle_stage"),
        (13, "shopify_id", "invalid_shopify_customer_id"),
        (14, "shopify_id", "duplicate_shopify_customer_id"),
        (15, "shopify_id", "duplicate_shopify_customer_id"),
        (16, "phone", "invalid_phone"),
        (17, "country", "invalid_country_code"),
        (18, None, "malformed_row"),
        (19, "email", "invalid_email"),
    }
    # The valid rows remain (row 20's Shopify id is checked against the shop, not here).
    assert [row.row for row in parsed.rows] == [2, 20]
    assert parsed.row_count == 19


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", PointsErrorCode.INVALID_IMPORT_FILE),
        (b"email,points\n", PointsErrorCode.INVALID_IMPORT_FILE),
        (b"email,points\n\xff\xfe,1\n", PointsErrorCode.INVALID_IMPORT_FILE),
        (b"email,po\x00ints\n", PointsErrorCode.INVALID_IMPORT_FILE),
        (b"mail,points\na@example.com,1\n", PointsErrorCode.MISSING_IMPORT_COLUMN),
        (b"email\n" + b"a" * MAX_FILE_BYTES, PointsErrorCode.IMPORT_FILE_TOO_LARGE),
    ],
)
def test_unreadable_files_are_refused_with_a_code(content: bytes, code: PointsErrorCode) -> None:
    with pytest.raises(PointsError) as refused:
        parse_file(content, source_mapping(DataImportSource.SMILE, None))
    assert refused.value.code is code


@pytest.mark.parametrize(
    ("source", "mapping"),
    [
        (DataImportSource.CUSTOM, None),
        (DataImportSource.CUSTOM, {"a": "nickname"}),
        (DataImportSource.CUSTOM, {"a": "email", "b": "email"}),
        (DataImportSource.SMILE, {"a": "email"}),
    ],
)
def test_bad_mappings_are_refused(source: DataImportSource, mapping: dict[str, str] | None) -> None:
    with pytest.raises(PointsError) as refused:
        source_mapping(source, mapping)
    assert refused.value.code is PointsErrorCode.INVALID_IMPORT_MAPPING


def test_the_error_log_pages_both_ways_and_reversed() -> None:
    log = [{"row": row} for row in range(2, 9)]

    def rows(**arguments: Any) -> tuple[list[int], bool, bool]:
        page = error_log_page(log, page_request(**arguments))
        return [entry["row"] for _, entry in page.rows], page.has_next_page, page.has_previous_page

    assert rows(first=3) == ([2, 3, 4], True, False)
    assert rows(first=3, after=encode_cursor((2,))) == ([5, 6, 7], True, True)
    assert rows(last=2) == ([7, 8], False, True)
    assert rows(last=2, before=encode_cursor((5,))) == ([5, 6], True, True)
    assert rows(first=2, reverse=True) == ([8, 7], True, False)


@pytest.mark.parametrize(
    "address",
    [
        "John.Roe@Example.com",
        "x@bücher.de",
        "ann+tag@shop.co.uk",
        "bad@@x.com",
        "a b@x.com",
        "Name <a@b.com>",
        "a@localhost",
        "a@-x.com",
        ".a@x.com",
        "a@x..com",
        "@x.com",
        "a@",
        f"{'a' * 64}@{'b' * 190}.com",
    ],
)
def test_the_cached_email_check_agrees_with_email_validator(address: str) -> None:
    try:
        expected: str | None = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    try:
        found: str | None = valid_email(address)
    except EmailNotValidError:
        found = None
    assert found == (None if expected is None else expected.lower())
