"""How `loyalnest` resolves its environment in production (the image's services)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.stack import resolve_environment
from db.crypto import generate_key
from subgraphs.kit.settings import Settings


def production_settings(data_dir: Path, **overrides: str) -> Settings:
    values = {
        "LOYALNEST_ENV": "production",
        "LOYALNEST_DATA_DIR": str(data_dir),
        "DATABASE_URL": "postgresql://loyalnest@postgres:5432/loyalnest",
        "REDIS_URL": "redis://redis:6379/0",
        "LOYALNEST_ENCRYPTION_KEYS": f"k1:{generate_key()}",
        "LOYALNEST_BLIND_INDEX_KEY": generate_key(),
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_with_real_servers_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image's working directory is not writable by its user: resolving must not try."""
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    data_dir = tmp_path / "data"

    resolved = resolve_environment(production_settings(data_dir))

    assert resolved.postgres is None
    assert resolved.redis is None
    assert resolved.env == {}
    assert not data_dir.exists()


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_never_starts_embedded_servers(tmp_path: Path, missing: str) -> None:
    settings = production_settings(tmp_path / "data", **{missing: ""})

    with pytest.raises(RuntimeError, match="production requires DATABASE_URL and REDIS_URL"):
        resolve_environment(settings)
    assert not (tmp_path / "data").exists()
