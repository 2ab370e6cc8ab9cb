"""`loyalnest import`: the function the command runs, against the real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.data_import import UnknownShop, import_csv_file, parse_mapping
from cli.main import app
from db.models import DataImportSource, DataImportStatus
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from tests.conftest import Tenant
from tests.subgraphs.points.imports.helpers import balances, sample


async def test_cli_import_previews_then_applies_once(
    settings: Settings, resources: Resources, tenant: Tenant
) -> None:
    stages: list[str] = []
    content = sample("loyaltylion.csv")

    preview = await import_csv_file(
        settings,
        tenant.shop_domain,
        content,
        DataImportSource.LOYALTYLION,
        mapping=None,
        dry_run=True,
        progress=lambda stage, _done, _total: stages.append(stage),
    )
    assert preview.data_import.status == DataImportStatus.PREVIEWED
    assert stages == ["validated"]
    assert await balances(resources, tenant) == {}

    applied = await import_csv_file(
        settings,
        tenant.shop_domain,
        content,
        DataImportSource.LOYALTYLION,
        mapping=None,
        dry_run=False,
        file_name="loyaltylion.csv",
    )
    again = await import_csv_file(
        settings,
        tenant.shop_domain,
        content,
        DataImportSource.LOYALTYLION,
        mapping=None,
        dry_run=False,
    )
    assert applied.data_import.file_name == "loyaltylion.csv"
    assert again.replayed
    assert again.data_import.id == applied.data_import.id
    assert (await balances(resources, tenant))["li@example.com"] == 800


async def test_cli_import_into_an_unknown_shop_is_refused(settings: Settings) -> None:
    with pytest.raises(UnknownShop):
        await import_csv_file(
            settings,
            "nowhere.myshopify.com",
            sample("smile.csv"),
            DataImportSource.SMILE,
            mapping=None,
            dry_run=True,
        )


def test_mapping_options_are_column_equals_field() -> None:
    assert parse_mapping(["E-mail=email", "a=b=points"]) == {"E-mail": "email", "a=b": "points"}
    with pytest.raises(ValueError, match="COLUMN=FIELD"):
        parse_mapping(["email"])


def test_the_import_command_applies_a_file_and_prints_what_it_did(
    settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "smile.csv"
    path.write_bytes(sample("smile.csv"))
    assert settings.database_url is not None
    assert settings.redis_url is not None
    environment = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "LOYALNEST_ENCRYPTION_KEYS": settings.encryption_keys or "",
        "LOYALNEST_BLIND_INDEX_KEY": settings.blind_index_key or "",
    }
    arguments = ["import", str(path), "--shop", tenant.shop_domain, "--source", "smile"]

    previewed = CliRunner().invoke(app, [*arguments, "--dry-run"], env=environment)
    applied = CliRunner().invoke(app, arguments, env=environment)
    refused = CliRunner().invoke(app, [*arguments, "--source", "nope"], env=environment)

    assert previewed.exit_code == 0, previewed.output
    assert "(previewed): 3 rows; would create 3 customers" in previewed.output
    assert applied.exit_code == 0, applied.output
    assert "(committed): 3 rows; created 3 customers" in applied.output
    assert "1550 points" in applied.output
    assert refused.exit_code != 0
