"""Look for a person's data anywhere in the database, the way an auditor would: every table
of schema public (discovered from pg_catalog, so a table added later is scanned too), every
text-like column (text, varchar, json/jsonb, arrays of them) of every row of one merchant, read
as the table owner (no row-level security), and every FieldCipher token found in a value
decrypted with every encryption context we know of.

A token no context opens is reported as a hit too: the scan cannot vouch for what it cannot
read, so a new encrypted column must teach it its context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import text

from db.crypto import DecryptionError, FieldCipher
from db.session import system_unit_of_work
from subgraphs.kit.resources import Resources

KNOWN_CONTEXTS = (
    "customers.email",
    "customers.phone",
    "reward_redemptions.code",
    "api_logs.payload",
    "gdpr_requests.export",
    "gdpr_requests.export_spec",
    "gdpr_profile_deletions.identifier",
    "merchants.api_token",
    "program_settings.notification_api_key",
)
_TOKEN = re.compile(r"v1:[^:\s\"',]+:[A-Za-z0-9_-]{20,}")
_SNIPPET_RADIUS = 30
UNREADABLE = "undecryptable FieldCipher token"

_TABLES = text(
    """
    SELECT c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    ORDER BY c.relname
    """
)
_COLUMNS = text(
    """
    SELECT a.attname, t.typcategory::text AS typcategory,
           coalesce(e.typcategory::text, '') AS element_category, t.typname::text AS typname
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
    WHERE n.nspname = 'public' AND c.relname = :table AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
    """
)


class PiiHit(NamedTuple):
    table: str
    column: str
    snippet: str


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _is_textual(category: str, element_category: str, type_name: str) -> bool:
    return (
        category == "S"
        or type_name in ("json", "jsonb")
        or (category == "A" and (element_category == "S" or type_name in ("_json", "_jsonb")))
    )


def _contexts_for(table: str, column: str) -> list[str]:
    own = f"{table}.{column.removesuffix('_encrypted')}"
    return [own, *(context for context in KNOWN_CONTEXTS if context != own)]


def _snippet(value: str, start: int, length: int) -> str:
    low = max(start - _SNIPPET_RADIUS, 0)
    return value[low : start + length + _SNIPPET_RADIUS]


def _hits_in(
    value: str, needles: list[str], cipher: FieldCipher, contexts: list[str], depth: int = 0
) -> list[str]:
    found: list[str] = []
    lowered = value.lower()
    for needle in needles:
        at = lowered.find(needle)
        if at >= 0:
            found.append(_snippet(value, at, len(needle)))
    if depth > 2:
        return found
    for match in _TOKEN.finditer(value):
        plain = None
        for context in contexts:
            try:
                plain = cipher.decrypt(match.group(0), context=context)
            except DecryptionError:
                continue
            found.extend(
                f"decrypted({context}): {snippet}"
                for snippet in _hits_in(plain, needles, cipher, contexts, depth + 1)
            )
            break
        if plain is None:
            found.append(UNREADABLE)
    return found


class TableColumns(NamedTuple):
    columns: list[str]
    textual: list[str]


async def public_tables(resources: Resources) -> dict[str, TableColumns]:
    """Every table (partitioned parents and plain tables) of schema public: all its columns,
    and those holding text (text, varchar, json/jsonb, arrays of them)."""
    tables: dict[str, TableColumns] = {}
    async with system_unit_of_work(resources.sessions) as session:
        for table in list((await session.execute(_TABLES)).scalars()):
            rows = (await session.execute(_COLUMNS, {"table": table})).all()
            tables[table] = TableColumns(
                columns=[row.attname for row in rows],
                textual=[
                    row.attname
                    for row in rows
                    if _is_textual(row.typcategory, row.element_category, row.typname)
                ],
            )
    return tables


def _merchant_filter(table: str, all_columns: list[str]) -> str | None:
    if "merchant_id" in all_columns:
        return "merchant_id = :merchant_id"
    if table == "merchants":
        return "id = :merchant_id"
    return None


async def find_pii(resources: Resources, merchant_id: str, needles: Iterable[str]) -> list[PiiHit]:
    """Where any needle (case-insensitive) appears in this merchant's rows, in clear or inside
    an encrypted value. Tables without a merchant column are scanned whole."""
    wanted = sorted({needle.lower() for needle in needles if needle})
    hits: list[PiiHit] = []
    for table, (columns, textual) in (await public_tables(resources)).items():
        if not textual:
            continue
        where = _merchant_filter(table, columns)
        selected = ", ".join(f"{_quote(column)}::text" for column in textual)
        query = f"SELECT {selected} FROM {_quote(table)}"  # noqa: S608 - names from pg_catalog
        if where is not None:
            query += f" WHERE {where}"
        async with system_unit_of_work(resources.sessions) as session:
            result = await session.execute(text(query), {"merchant_id": merchant_id})
            rows = result.all()
        for row in rows:
            for column, value in zip(textual, row, strict=True):
                if value is None:
                    continue
                contexts = _contexts_for(table, column)
                hits.extend(
                    PiiHit(table, column, snippet)
                    for snippet in _hits_in(value, wanted, resources.cipher, contexts)
                )
    return hits


async def rows_of_merchant(resources: Resources, merchant_id: str) -> dict[str, int]:
    """How many rows of the merchant each table holds (tables holding none are left out)."""
    counts: dict[str, int] = {}
    for table, (columns, _) in (await public_tables(resources)).items():
        where = _merchant_filter(table, columns)
        if where is None:
            continue
        query = f"SELECT count(*) FROM {_quote(table)} WHERE {where}"  # noqa: S608
        async with system_unit_of_work(resources.sessions) as session:
            count = (await session.execute(text(query), {"merchant_id": merchant_id})).scalar_one()
        if count:
            counts[table] = int(count)
    return counts
