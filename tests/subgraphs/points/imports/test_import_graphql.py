"""dataImportCreate, dataImport(s) and dataImportRevert on the points subgraph."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.edge.auth.tokens import mint_staff_token
from subgraphs.kit.resources import Resources
from subgraphs.points.imports.parsing import MAX_FILE_BYTES
from subgraphs.points.imports.queued import run_queued_import
from tests.conftest import SubgraphClient, Tenant
from tests.subgraphs.points.imports.helpers import BAD_ROWS_MAPPING, balances, sample

CREATE = """
mutation($input: DataImportCreateInput!) {
  dataImportCreate(input: $input) {
    replayed
    dataImport {
      id status source rowCount createCount updateCount skipCount errorCount pointsTotal
      revertibleUntil
      errorLog(first: $first, after: $after) {
        nodes { row column code message }
        pageInfo { hasNextPage endCursor }
      }
    }
    userErrors { field code message }
  }
}
"""
CREATE_PLAIN = """
mutation($input: DataImportCreateInput!) {
  dataImportCreate(input: $input) {
    dataImport { id status createCount pointsTotal }
    userErrors { field code message }
  }
}
"""
REVERT = """
mutation($id: ID!) {
  dataImportRevert(input: {id: $id}) {
    replayed
    dataImport { id status revertedPoints revertShortfall removedCustomers }
    userErrors { field code }
  }
}
"""
READ = """
query($id: ID!) {
  dataImport(id: $id) { id status }
  dataImports(first: 10) { nodes { id status } }
}
"""


def _error_log_query(first: int, after: str | None) -> str:
    return CREATE.replace("$first", str(first)).replace(
        "$after", "null" if after is None else f'"{after}"'
    )


def _custom_bad_rows() -> dict[str, Any]:
    return {
        "source": "CUSTOM",
        "fileContent": sample("bad_rows.csv").decode(),
        "fileName": "bad_rows.csv",
        "mapping": [
            {"column": column, "field": field.upper()} for column, field in BAD_ROWS_MAPPING.items()
        ],
    }


async def test_dry_run_answers_the_preview_and_pages_the_error_log(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    first = await points_client.execute(
        _error_log_query(5, None), {"input": _custom_bad_rows()}, tenant=tenant
    )
    payload = first["data"]["dataImportCreate"]
    preview = payload["dataImport"]
    assert payload["userErrors"] == []
    assert preview["status"] == "PREVIEWED"
    assert (preview["rowCount"], preview["createCount"], preview["errorCount"]) == (19, 2, 17)
    assert preview["revertibleUntil"] is None
    log = preview["errorLog"]
    assert [node["row"] for node in log["nodes"]] == [3, 4, 5, 6, 7]
    assert log["nodes"][0] == {
        "row": 3,
        "column": "email",
        "code": "INVALID_EMAIL",
        "message": log["nodes"][0]["message"],
    }
    assert log["pageInfo"]["hasNextPage"]

    second = await points_client.execute(
        _error_log_query(100, log["pageInfo"]["endCursor"]),
        {"input": _custom_bad_rows()},
        tenant=tenant,
    )
    rest = second["data"]["dataImportCreate"]["dataImport"]["errorLog"]
    assert [node["row"] for node in rest["nodes"]][:2] == [8, 9]
    assert len(rest["nodes"]) == 12
    assert not rest["pageInfo"]["hasNextPage"]


async def test_commit_read_and_revert_through_graphql(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    source = {"source": "SMILE", "fileContent": sample("smile.csv").decode(), "dryRun": False}
    created = await points_client.execute(CREATE_PLAIN, {"input": source}, tenant=tenant)
    committed = created["data"]["dataImportCreate"]["dataImport"]
    assert committed["status"] == "QUEUED"
    assert committed["pointsTotal"] == "1550"
    # The worker's job (test_import_jobs.py covers it), run here in the test's process.
    await run_queued_import(resources, tenant.merchant_id, committed["id"].rsplit("/", 1)[-1])
    assert (await balances(resources, tenant))["jane@example.com"] == 1200

    read = await points_client.execute(READ, {"id": committed["id"]}, tenant=tenant)
    assert read["data"]["dataImport"] == {"id": committed["id"], "status": "COMMITTED"}
    assert read["data"]["dataImports"]["nodes"][0]["id"] == committed["id"]

    reverted = await points_client.execute(REVERT, {"id": committed["id"]}, tenant=tenant)
    result = reverted["data"]["dataImportRevert"]
    assert result["dataImport"]["status"] == "REVERTED"
    assert result["dataImport"]["revertedPoints"] == "1550"
    assert result["dataImport"]["revertShortfall"] == "0"
    assert await balances(resources, tenant) == {}

    again = await points_client.execute(REVERT, {"id": committed["id"]}, tenant=tenant)
    assert again["data"]["dataImportRevert"]["replayed"] is True


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"fileContent": "x" * (MAX_FILE_BYTES + 1)}, "IMPORT_FILE_TOO_LARGE", "file"),
        ({"fileContent": "mail,points\na@b.co,1\n"}, "MISSING_IMPORT_COLUMN", "file"),
        ({"mapping": [{"column": "email", "field": "EMAIL"}]}, "INVALID_IMPORT_MAPPING", "mapping"),
        ({"fileContent": "email,points\nbad,1\n", "dryRun": False}, "IMPORT_HAS_ERRORS", "file"),
    ],
)
async def test_bad_files_are_user_errors_and_write_nothing(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    source = {"source": "SMILE", "fileContent": sample("smile.csv").decode(), **changes}
    result = await points_client.execute(CREATE_PLAIN, {"input": source}, tenant=tenant)
    payload = result["data"]["dataImportCreate"]
    assert payload["dataImport"] is None
    assert [(error["code"], error["field"]) for error in payload["userErrors"]] == [
        (code, ["input", field])
    ]
    assert await balances(resources, tenant) == {}


async def test_reverting_an_unknown_import_is_a_user_error(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    unknown = "gid://loyalnest/DataImport/00000000-0000-7000-8000-000000000000"
    result = await points_client.execute(REVERT, {"id": unknown}, tenant=tenant)
    assert result["data"]["dataImportRevert"]["userErrors"] == [
        {"field": ["input", "id"], "code": "IMPORT_NOT_FOUND"}
    ]


async def test_support_staff_may_read_imports_but_not_import(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    token = mint_staff_token(
        shop_domain=tenant.shop_domain,
        staff_id="s-1",
        roles=["admin:support"],
        secret=resources.settings.staff_token_secret,
    )
    headers = {"authorization": f"Bearer {token}"}
    source = {"source": "SMILE", "fileContent": sample("smile.csv").decode(), "dryRun": False}
    refused = await points_client.execute(CREATE_PLAIN, {"input": source}, headers=headers)
    assert [error["extensions"]["code"] for error in refused["errors"]] == ["FORBIDDEN"]
    listed = await points_client.execute(
        "{ dataImports(first: 5) { nodes { id } } }", headers=headers
    )
    assert listed["data"]["dataImports"]["nodes"] == []
    assert await balances(resources, tenant) == {}
