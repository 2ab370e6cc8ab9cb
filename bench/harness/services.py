"""The environment our services run with in a benchmark: the run's database and Redis, fresh
keys, development settings, and no rate limits (a benchmark floods one shop on purpose)."""

from __future__ import annotations

import os
from pathlib import Path

# The project's code: this path moves with it.
from db.crypto import generate_key


def service_env(
    database_url: str, redis_url: str, scratch: Path, *, app_secret: str
) -> dict[str, str]:
    """What `loyalnest serve ...` and `loyalnest worker` need, with defaults for the rest
    (pool sizes, arq's 10 concurrent jobs, INFO logs into a file)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOYALNEST_ENCRYPTION_KEYS": f"bench:{generate_key()}",
        "LOYALNEST_BLIND_INDEX_KEY": generate_key(),
        "SHOPIFY_API_SECRET": app_secret,
        "SHOPIFY_API_KEY": "bench-api-key",
        "LOYALNEST_ENV": "development",
        "LOYALNEST_DATA_DIR": str(scratch),
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", str(scratch)),
        "LOYALNEST_RATE_LIMITS_ENABLED": "false",
    }
