"""A compiled router on the same subgraphs, for comparison only (issue 12): Grafbase's gateway,
as the `grafbase dev` server of its CLI (a Rust binary in an npm package), fetched once into
the user's cache. We do not ship it: it answers the question "what would a compiled router
give on this machine, on this query?".

Two things differ from our router, and the report says so next to the number:
- it composes the subgraphs' SDL itself, and its parser panics on some one-line block-string
  descriptions (`\"\"\"Cap.\"\"\"` in points' inputs, Grafbase CLI 0.103.0), so each one-line
  block string is given to it as the same text in a plain string, which GraphQL reads alike;
- it runs none of our router's plugins (persisted documents, the cost limit, rate limits,
  WebSocket authentication): it forwards the `authorization` header and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

from harness import Processes, free_port

from api_phases.federation import Federation, wait_until_up

# The project's code: these paths move with it.
from cli.stack import REPO_ROOT

GRAFBASE_PACKAGE = "@grafbase/cli-x86_64-unknown-linux-musl"
GRAFBASE_VERSION = "0.103.0"
_ONE_LINE_BLOCK_STRING = re.compile(r'"""([^"\n]*)"""')


def grafbase_binary() -> Path:
    """The CLI binary, fetched with `npm pack` into ~/.cache/loyalnest on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "loyalnest"
    binary = cache / f"grafbase-{GRAFBASE_VERSION}" / "grafbase"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        packed = subprocess.run(
            ["npm", "pack", f"{GRAFBASE_PACKAGE}@{GRAFBASE_VERSION}", "--silent"],
            cwd=download,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        with tarfile.open(Path(download) / packed) as archive:
            member = archive.getmember("package/grafbase")
            member.name = binary.name
            archive.extract(member, binary.parent, filter="data")
    binary.chmod(0o755)
    return binary


def sdl_for_grafbase(sdl: str) -> str:
    """The same schema, with each one-line block-string description as a plain string."""
    return _ONE_LINE_BLOCK_STRING.sub(lambda match: json.dumps(match.group(1)), sdl)


def grafbase_config(federation: Federation, schema_dir: Path) -> str:
    lines = ["[[headers]]", 'rule = "forward"', 'name = "authorization"', ""]
    for name, url in federation.subgraph_urls.items():
        schema = schema_dir / f"{name}.graphql"
        schema.write_text(sdl_for_grafbase((REPO_ROOT / "schema" / f"{name}.graphql").read_text()))
        lines += [f"[subgraphs.{name}]", f'url = "{url}"', f'schema_path = "{schema}"', ""]
    return "\n".join(lines)


async def start_grafbase(processes: Processes, federation: Federation, scratch: Path) -> str:
    """Grafbase's dev server over the running subgraphs; its GraphQL URL."""
    directory = scratch / "grafbase"
    directory.mkdir(exist_ok=True)
    config = directory / "grafbase.toml"
    config.write_text(grafbase_config(federation, directory))
    port = free_port()
    processes.start(
        "grafbase",
        [str(grafbase_binary()), "dev", "--config", str(config), "--port", str(port)],
        env={**os.environ, "NO_COLOR": "1"},
        cwd=directory,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    await wait_until_up(processes, url.replace("/graphql", "/health"), "grafbase")
    return url
