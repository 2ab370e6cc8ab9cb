"""What the stack is made of, and how its environment is resolved.

The CLI is the composition root: it refers to the subgraphs by import string (uvicorn and the
schema exporter load them), so `gateway` never imports a subgraph's GraphQL modules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cli.embedded import EmbeddedPostgres, EmbeddedRedis, start_postgres, start_redis
from cli.node import NodeUnavailable, check_node
from db.crypto import generate_key
from subgraphs.kit.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
ROUTER_DIR = REPO_ROOT / "gateway" / "router"
SUPERGRAPH_FILE = REPO_ROOT / "supergraph" / "supergraph.graphql"
SUPERGRAPH_CONFIG = REPO_ROOT / "supergraph" / "supergraph.yaml"
SCHEMA_DIR = REPO_ROOT / "schema"
OPERATIONS_DIR = SCHEMA_DIR / "operations"
DEMO_SHOP = "demo.myshopify.com"
# Where `loyalnest seed --customers N` generates a shop unless told otherwise.
GENERATED_SHOP = "generated.myshopify.com"
# The edge app (gateway/edge/app.py): Shopify webhooks, OAuth, the app-proxy token exchange.
EDGE_APP = "gateway.edge.app:app"
EDGE_PORT = 4105
# The worker's Prometheus /metrics.
WORKER_METRICS_PORT = 4106


@dataclass(frozen=True)
class Subgraph:
    name: str
    port: int

    @property
    def app(self) -> str:
        return f"subgraphs.{self.name}.app:app"

    @property
    def schema(self) -> str:
        return f"subgraphs.{self.name}.schema"

    @property
    def routing_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"


SUBGRAPHS = {
    subgraph.name: subgraph
    for subgraph in (
        Subgraph("points", 4101),
        Subgraph("referrals", 4102),
        Subgraph("analytics", 4103),
        Subgraph("admin", 4104),
    )
}


@dataclass
class StackEnvironment:
    """Settings with every URL and secret filled in, and the embedded servers we started."""

    settings: Settings
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    env: dict[str, str] = field(default_factory=dict)

    def child_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        # pgserver stops its server itself when the last process using it exits.


def _dev_secrets(data_dir: Path) -> dict[str, str]:
    """Encryption keys for local data, generated once and kept beside it: losing them would
    make the local database's PII unreadable."""
    path = data_dir / "secrets.env"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"LOYALNEST_ENCRYPTION_KEYS=dev1:{generate_key()}\n"
            f"LOYALNEST_BLIND_INDEX_KEY={generate_key()}\n"
        )
        path.chmod(0o600)
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def resolve_environment(settings: Settings, *, database: str = "loyalnest") -> StackEnvironment:
    """Use the configured servers; start embedded ones for whatever is not configured."""
    resolved = StackEnvironment(settings=settings)
    data_dir = settings.data_dir.resolve()
    if settings.environment == "production" and not (settings.database_url and settings.redis_url):
        # Embedded servers are for development: production data lives in real ones.
        raise RuntimeError("production requires DATABASE_URL and REDIS_URL")
    # pgserver asks platformdirs for a runtime directory and warns when none is set. Only for
    # embedded servers: with real ones nothing is written (in the image the working directory
    # is read-only to the service's user).
    embedded = not settings.database_url or not settings.redis_url
    if embedded and not os.environ.get("XDG_RUNTIME_DIR"):
        runtime_dir = data_dir / "run"
        runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
    if not settings.database_url:
        resolved.postgres = start_postgres(data_dir)
        resolved.postgres.ensure_database(database)
        resolved.env["DATABASE_URL"] = resolved.postgres.url(database)
    if not settings.redis_url:
        resolved.redis = start_redis(data_dir)
        resolved.env["REDIS_URL"] = resolved.redis.url
    if not settings.encryption_keys or not settings.blind_index_key:
        if settings.environment == "production":
            raise RuntimeError(
                "production requires LOYALNEST_ENCRYPTION_KEYS and a blind index key"
            )
        secrets = _dev_secrets(data_dir)
        if not settings.encryption_keys:
            resolved.env["LOYALNEST_ENCRYPTION_KEYS"] = secrets["LOYALNEST_ENCRYPTION_KEYS"]
        if not settings.blind_index_key:
            resolved.env["LOYALNEST_BLIND_INDEX_KEY"] = secrets["LOYALNEST_BLIND_INDEX_KEY"]
    resolved.settings = settings.model_copy(
        update={
            "database_url": resolved.env.get("DATABASE_URL", settings.database_url),
            "redis_url": resolved.env.get("REDIS_URL", settings.redis_url),
            "encryption_keys": resolved.env.get(
                "LOYALNEST_ENCRYPTION_KEYS", settings.encryption_keys
            ),
            "blind_index_key": resolved.env.get(
                "LOYALNEST_BLIND_INDEX_KEY", settings.blind_index_key
            ),
        }
    )
    return resolved


def router_node_requirement() -> str:
    """The Node versions the router supports: ``engines.node`` of its package.json."""
    package = json.loads((ROUTER_DIR / "package.json").read_text())
    return str(package.get("engines", {}).get("node", "*"))


def ensure_router_installed() -> None:
    """Check that Node is new enough for the router, then install the router's npm packages
    from the lockfile if they are missing. Raises :class:`NodeUnavailable` with the version
    needed (and the one found) otherwise."""
    requirement = router_node_requirement()
    check_node(requirement)
    # npm ci writes node_modules/.package-lock.json: older than the lockfile means the lockfile
    # changed since (a package added or bumped), so install again.
    installed = ROUTER_DIR / "node_modules" / ".package-lock.json"
    if (ROUTER_DIR / "node_modules" / ".bin" / "hive-gateway").exists() and (
        installed.exists()
        and installed.stat().st_mtime >= (ROUTER_DIR / "package-lock.json").stat().st_mtime
    ):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise NodeUnavailable(f"the router needs npm with Node {requirement} (no `npm` on PATH)")
    print("installing router packages (npm ci: first run, or the lockfile changed)...", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ROUTER_DIR, check=True)  # noqa: S603
