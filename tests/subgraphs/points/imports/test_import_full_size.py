"""A Smile.io and a LoyaltyLion export at full size (50,000 rows each), with bad rows of every
kind their columns can hold planted through the file: the dry run reports exactly what the
commit will create, credit and skip, and each bad row at its row and column; the commit (bad
rows left out) applies exactly that; the same file again changes nothing; the revert restores
every balance. Expected figures are computed here from the rows as generated."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import pytest

from db.models import DataImportSource
from subgraphs.kit.resources import Resources
from subgraphs.points.imports.parsing import RowErrorCode
from subgraphs.points.ledger.write_path import MAX_POINTS_PER_TRANSACTION
from tests.conftest import Tenant
from tests.subgraphs.points.imports.helpers import assert_invariants, balances, ledger_totals, run
from tests.subgraphs.points.imports.test_import_service import _revert

ROWS = 50_000
EXISTING = 2_000  # of the file's good customers, already in the shop
SMILE_HEADER = "id,first_name,last_name,email,state,date_of_birth,points_balance,created_at"
LION_HEADER = (
    "id,merchant_id,email,points_approved,points_pending,points_spent,enrolled,enrolled_at,"
    "birthday,tier"
)
# Shopify ids of customers the shop has (not in the file): a LoyaltyLion row naming one is
# refused. One each, or the rows naming them would also be duplicates of each other.
PER_KIND = 40  # bad rows of each kind
TAKEN_SHOPIFY_IDS = tuple(str(999_000_000 + k) for k in range(PER_KIND))
TAKEN = "taken"


@dataclass
class Export:
    """The file, and what an import of it must report."""

    lines: list[str]
    # (spreadsheet row, column, code) of every bad row.
    errors: set[tuple[int, str | None, str]] = field(default_factory=set)
    # email -> points of the rows that validate.
    good: dict[str, int] = field(default_factory=dict)

    def content(self) -> bytes:
        return "\n".join(self.lines).encode()


def _bad_values(source: DataImportSource) -> list[tuple[str, str, str, RowErrorCode]]:
    """(field, bad value, column header, code) for each kind of bad row of the source."""
    points, date, birthday = (
        ("points_balance", "created_at", "date_of_birth")
        if source is DataImportSource.SMILE
        else ("points_approved", "enrolled_at", "birthday")
    )
    kinds = [
        ("email", "not-an-email", "email", RowErrorCode.INVALID_EMAIL),
        ("points", "-5", points, RowErrorCode.INVALID_POINTS),
        ("points", "1.5", points, RowErrorCode.INVALID_POINTS),
        ("points", str(MAX_POINTS_PER_TRANSACTION + 1), points, RowErrorCode.INVALID_POINTS),
        ("date", "2024-13-01", date, RowErrorCode.INVALID_DATE),
        ("birthday", "yesterday", birthday, RowErrorCode.INVALID_DATE),
    ]
    if source is DataImportSource.LOYALTYLION:
        kinds += [
            ("shopify", "abc", "merchant_id", RowErrorCode.INVALID_SHOPIFY_CUSTOMER_ID),
            ("shopify", TAKEN, "merchant_id", RowErrorCode.SHOPIFY_CUSTOMER_ID_TAKEN),
        ]
    return kinds


def _row(source: DataImportSource, n: int, values: dict[str, str]) -> str:
    if source is DataImportSource.SMILE:
        return (
            f"{500_000_000 + n},First{n},Last{n},{values['email']},member,{values['birthday']},"
            f"{values['points']},{values['date']}"
        )
    return (
        f"{n},{values['shopify']},{values['email']},{values['points']},0,0,true,"
        f"{values['date']},{values['birthday']},"
    )


def _export(source: DataImportSource, seed: int) -> Export:
    rng = random.Random(seed)
    taken_ids = iter(TAKEN_SHOPIFY_IDS)
    export = Export([SMILE_HEADER if source is DataImportSource.SMILE else LION_HEADER])
    kinds = _bad_values(source)
    # Bad rows spread through the file, each kind several times, never in the first rows
    # (those are the customers the shop already has).
    bad_at = dict(
        zip(
            rng.sample(range(EXISTING, ROWS), PER_KIND * len(kinds)),
            [kind for kind in kinds for _ in range(PER_KIND)],
            strict=True,
        )
    )
    # Two rows of one email, and (LoyaltyLion) two rows of one Shopify id: both are refused.
    # (Firsts at even rows only, so no row is both the second of a pair and the first of one.)
    firsts = [n for n in range(EXISTING, ROWS - 1, 2) if n not in bad_at and n + 1 not in bad_at]
    duplicates = {n + 1: n for n in rng.sample(firsts, 20)}
    for n in range(ROWS):
        sheet_row = n + 2  # the header is row 1
        values = {
            "email": f"full{n}@example.com",
            "points": str(rng.randint(0, 5000)),
            "date": "2024-03-01T10:00:00Z",
            "birthday": f"1990-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "shopify": str(6_000_000_000 + n),
        }
        if n in bad_at:
            name, value, column, code = bad_at[n]
            values[name] = next(taken_ids) if value == TAKEN else value
            export.errors.add((sheet_row, column, code.value))
        elif n in duplicates:
            first = duplicates[n]
            export.good.pop(f"full{first}@example.com", None)
            export.errors.add((first + 2, "email", RowErrorCode.DUPLICATE_EMAIL.value))
            export.errors.add((sheet_row, "email", RowErrorCode.DUPLICATE_EMAIL.value))
            values["email"] = f"full{first}@example.com"
        else:
            export.good[values["email"]] = int(values["points"])
        export.lines.append(_row(source, n, values))
    if source is DataImportSource.LOYALTYLION:
        # A good-looking row whose Shopify id another row of the file also gives.
        export.lines.append(_row(source, ROWS, {**_plain(ROWS), "shopify": str(6_000_000_001)}))
        export.errors |= {
            (ROWS + 2, "merchant_id", RowErrorCode.DUPLICATE_SHOPIFY_CUSTOMER_ID.value),
            (3, "merchant_id", RowErrorCode.DUPLICATE_SHOPIFY_CUSTOMER_ID.value),
        }
        export.good.pop("full1@example.com", None)
    return export


def _plain(n: int) -> dict[str, str]:
    return {
        "email": f"full{n}@example.com",
        "points": "7",
        "date": "2024-03-01T10:00:00Z",
        "birthday": "1990-01-01",
        "shopify": str(6_000_000_000 + n),
    }


def _existing(count: int) -> bytes:
    """A Shopify customer export of the file's first ``count`` customers, and the holders of
    the Shopify ids LoyaltyLion rows may not take."""
    lines = ["Customer ID,Email"]
    lines += [f"'{6_000_000_000 + n},full{n}@example.com" for n in range(count)]
    lines += [f"'{taken},holder{taken}@example.com" for taken in TAKEN_SHOPIFY_IDS]
    return "\n".join(lines).encode()


# Out of the default run (pyproject.toml): see README, "Run the tests".
@pytest.mark.full_size
@pytest.mark.parametrize(
    ("source", "seed"), [(DataImportSource.SMILE, 1), (DataImportSource.LOYALTYLION, 2)]
)
async def test_a_full_size_export_is_previewed_committed_once_and_reverted_exactly(
    resources: Resources, tenant: Tenant, source: DataImportSource, seed: int
) -> None:
    await run(resources, tenant, DataImportSource.SHOPIFY, _existing(EXISTING), dry_run=False)
    export = _export(source, seed)
    content = export.content()
    existing = {f"full{n}@example.com" for n in range(EXISTING)}
    before = await balances(resources, tenant)
    totals_before = await ledger_totals(resources, tenant)

    preview = (await run(resources, tenant, source, content)).data_import

    logged = Counter((e["row"], e["column"], e["code"]) for e in preview.error_log)
    assert set(logged) == export.errors
    assert max(logged.values()) == 1
    assert preview.error_count == len({row for row, _, _ in export.errors})
    creates = sum(1 for email in export.good if email not in existing)
    updates = sum(1 for email, points in export.good.items() if email in existing and points)
    skips = sum(1 for email, points in export.good.items() if email in existing and not points)
    assert (preview.create_count, preview.update_count, preview.skip_count) == (
        creates,
        updates,
        skips,
    )
    assert preview.points_total == sum(export.good.values())
    assert await ledger_totals(resources, tenant) == totals_before

    committed = (
        await run(resources, tenant, source, content, dry_run=False, skip_invalid_rows=True)
    ).data_import
    assert (committed.create_count, committed.update_count, committed.skip_count) == (
        creates,
        updates,
        skips,
    )
    after = await balances(resources, tenant)
    assert after == {
        **before,
        **{email: before.get(email, 0) + points for email, points in export.good.items()},
    }
    await assert_invariants(resources, tenant)

    again = await run(resources, tenant, source, content, dry_run=False, skip_invalid_rows=True)
    assert again.replayed
    assert await balances(resources, tenant) == after

    await _revert(resources, tenant, committed.id)
    assert await balances(resources, tenant) == before
    await assert_invariants(resources, tenant)
