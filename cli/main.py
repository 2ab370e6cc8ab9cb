"""`loyalnest`: run the stack, migrate, compose, seed, mint local tokens, serve one part (long
because each command's options and help stand with it, as typer wants)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.node import NodeUnavailable
from cli.processes import router_command, stop_all, wait_until_ready
from cli.stack import (
    DEMO_SHOP,
    EDGE_APP,
    EDGE_PORT,
    GENERATED_SHOP,
    REPO_ROOT,
    ROUTER_DIR,
    SUBGRAPHS,
    SUPERGRAPH_FILE,
    WORKER_METRICS_PORT,
    StackEnvironment,
    ensure_router_installed,
    resolve_environment,
)
from db.migrate import upgrade
from gateway.edge.auth.session_tokens import mint_session_token
from subgraphs.kit.settings import Settings, get_settings

app = typer.Typer(help="LoyalNest: the loyalty program backend.", no_args_is_help=True)
console = Console(stderr=True)

EXAMPLE_QUERY = (
    "{ merchant { shopDomain plan loyaltyMetrics { membersCount pointsIssued pointsRedeemed } }"
    " customers(first: 3) { edges { node { id pointsBalance referralLink { code url } } } } }"
)


def _environment() -> StackEnvironment:
    resolved = resolve_environment(get_settings())
    # Children and in-process code alike read settings from the environment.
    os.environ.update(resolved.env)
    get_settings.cache_clear()
    return resolved


def _require_router() -> None:
    """Install the router if needed; without a suitable Node, say which one and stop."""
    try:
        ensure_router_installed()
    except NodeUnavailable as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from exc


def _router_port() -> int:
    return int(os.environ.get("LOYALNEST_ROUTER_PORT", "4000"))


def _router_host() -> str:
    return os.environ.get("LOYALNEST_ROUTER_HOST", "127.0.0.1")


@app.command()
def migrate() -> None:
    """Apply database migrations (embedded Postgres unless DATABASE_URL is set)."""
    resolved = _environment()
    try:
        assert resolved.settings.database_url
        upgrade(resolved.settings.database_url)
        console.print("[green]database is at the latest migration[/]")
    finally:
        resolved.stop()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(context: typer.Context) -> None:
    """Open psql on the LoyalNest database; extra arguments go to psql (-c '\\d+ customers')."""
    from cli.embedded import psql_executable

    resolved = _environment()
    try:
        assert resolved.settings.database_url
        completed = subprocess.run(
            [psql_executable(), resolved.settings.database_url, *context.args], check=False
        )
        raise typer.Exit(completed.returncode)
    finally:
        resolved.stop()


@app.command()
def seed(
    shop: Annotated[
        str | None,
        typer.Option(
            help=f"Shop domain (default: {DEMO_SHOP}, or {GENERATED_SHOP} with --customers)."
        ),
    ] = None,
    customers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Generate a shop of this many customers (for benchmarks and demos)."
        ),
    ] = None,
    orders: Annotated[
        int, typer.Option(min=0, help="With --customers: orders over the two years.")
    ] = 0,
    random_seed: Annotated[
        int, typer.Option("--seed", help="With --customers: the RNG seed (same seed, same shop).")
    ] = 1,
    as_of: Annotated[
        str | None,
        typer.Option(help="With --customers: the day the history ends (YYYY-MM-DD; today)."),
    ] = None,
) -> None:
    """Create the demo merchant and customers (idempotent), or with --customers generate a
    realistic shop: order histories over two years, tiers, rewards, redemptions, referral
    links, all consistent with the ledger, loaded with COPY. Migrates the database first."""
    resolved = _environment()
    try:
        assert resolved.settings.database_url
        upgrade(resolved.settings.database_url)
        if customers is None:
            from cli.seed import seed_demo

            result = asyncio.run(seed_demo(resolved.settings, shop or DEMO_SHOP))
            console.print(f"seeded {shop or DEMO_SHOP} (merchant {result.merchant_id})")
        else:
            _generate_shop(
                resolved.settings, shop or GENERATED_SHOP, customers, orders, random_seed, as_of
            )
    finally:
        resolved.stop()


def _generate_shop(
    settings: Settings, shop: str, customers: int, orders: int, seed: int, as_of: str | None
) -> None:
    from datetime import UTC, datetime

    from rich.progress import Progress

    from cli.generated_shop import ShopNotEmpty, ShopShape, generate_shop

    shape = ShopShape(customers=customers, orders=orders, seed=seed)
    if as_of is not None:
        try:
            day = datetime.strptime(as_of, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise typer.BadParameter("give the day as YYYY-MM-DD", param_hint="--as-of") from None
        shape = ShopShape(customers=customers, orders=orders, seed=seed, as_of=day)
    started = time.monotonic()
    with Progress(console=console, transient=True) as progress:
        building = progress.add_task(
            "building customers and their ledgers, loading them with COPY", total=customers
        )

        def report(phase: str, done: int) -> None:
            if phase == "customers":
                progress.advance(building, done)

        try:
            made = asyncio.run(generate_shop(settings, shop, shape, report))
        except ShopNotEmpty as error:
            console.print(f"[red]{error}[/red]: generate into a new --shop")
            raise typer.Exit(1) from None
    console.print(
        f"generated {shop} (merchant {made.merchant_id}) in {time.monotonic() - started:.1f} s: "
        f"{made.customers} customers, {made.orders} orders, {made.transactions} ledger rows, "
        f"{made.redemptions} redemptions, {made.referral_links} referral links"
    )


@app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The CSV file (at most 10 MB).")
    ],
    shop: Annotated[str, typer.Option(help="The shop's domain (example.myshopify.com).")],
    source: Annotated[
        str, typer.Option(help="Whose export the file is: smile, loyaltylion, shopify, custom.")
    ],
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            help="For --source custom: COLUMN=FIELD, once per column (email, points, ...)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only validate and preview; apply nothing.")
    ] = False,
    skip_invalid_rows: Annotated[
        bool, typer.Option("--skip-invalid-rows", help="Apply the valid rows, leave out the rest.")
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(
            help="Idempotency key (default: the file's fingerprint, so a file is applied once)."
        ),
    ] = None,
) -> None:
    """Import customers and points balances from a Smile.io, LoyaltyLion or Shopify export, or
    a custom CSV, into one shop: previewed with --dry-run, applied all or nothing otherwise,
    undone with dataImportRevert within 30 days."""
    from rich.progress import Progress

    from cli.data_import import UnknownShop, import_csv_file, parse_mapping
    from db.models import DataImportSource
    from subgraphs.points.errors import PointsError

    try:
        chosen = DataImportSource(source.strip().lower())
        columns = parse_mapping(mapping or [])
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    resolved = _environment()
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("validating rows", total=None)
            labels = {"validated": "matching customers", "customers": "writing the ledger"}

            def report(stage: str, done: int, total: int) -> None:
                progress.update(
                    task, description=labels.get(stage, stage), completed=done, total=total
                )

            result = asyncio.run(
                import_csv_file(
                    resolved.settings,
                    shop,
                    file.read_bytes(),
                    chosen,
                    mapping=columns,
                    dry_run=dry_run,
                    file_name=file.name,
                    skip_invalid_rows=skip_invalid_rows,
                    idempotency_key=key,
                    progress=report,
                )
            )
    except UnknownShop:
        console.print(f"[red]no merchant has the shop {shop}[/red]")
        raise typer.Exit(1) from None
    except PointsError as error:
        console.print(f"[red]{error.code.name}[/red]: {error.message}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        resolved.stop()
    made = result.data_import
    for entry in made.error_log[:20]:
        console.print(
            f"row {entry['row']}, {entry['column'] or 'the row'}: {entry['message']}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    verb = "would create" if dry_run else ("had created" if result.replayed else "created")
    console.print(
        f"import {made.id} ({made.status}{', replayed' if result.replayed else ''}): "
        f"{made.row_count} rows; {verb} {made.create_count} customers, credits "
        f"{made.update_count} more, skips {made.skip_count}; {made.error_count} problems; "
        f"{made.points_total} points",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def token(
    shop: Annotated[str, typer.Option(help="Shop domain the token is for.")] = DEMO_SHOP,
    ttl: Annotated[
        int | None,
        typer.Option(help="Validity in seconds (default: 1 day, 15 min customer, 1 h staff)."),
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option(
            help="Mint a customer token for this customer (its global ID, as the API "
            "returns it: gid://loyalnest/Customer/...)."
        ),
    ] = None,
    staff: Annotated[
        str | None, typer.Option(help="Mint a staff token for this staff member id.")
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option(help="Staff role (repeatable): admin:full, admin:analytics, admin:support."),
    ] = None,
    mfa: Annotated[bool, typer.Option(help="Whether the staff token says MFA passed.")] = True,
    api_key: Annotated[
        str | None,
        typer.Option(help="Create a merchant API key with this label (stored; shown once)."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="API key scope (repeatable), e.g. read_customers, write_points."),
    ] = None,
) -> None:
    """Print a credential for SHOP (local use): a session token by default, or a customer
    token (--customer), a staff token (--staff, --role, --no-mfa), or a new API key
    (--api-key, --scope; needs the database)."""
    from gateway.edge.auth.tokens import (
        STAFF_TOKEN_TTL_SECONDS,
        create_api_key_for_shop,
        mint_customer_token,
        mint_staff_token,
    )
    from subgraphs.kit.auth import CUSTOMER_TOKEN_TTL_SECONDS
    from subgraphs.kit.permissions import Capability, StaffRole

    if sum(option is not None for option in (customer, staff, api_key)) > 1:
        raise typer.BadParameter("choose one of --customer, --staff and --api-key")
    settings = get_settings()
    if customer is not None:
        from subgraphs.kit.errors import BadUserInputError
        from subgraphs.kit.global_ids import local_id

        try:
            customer_id = local_id(customer, "Customer")
        except BadUserInputError as error:
            raise typer.BadParameter(error.message, param_hint="--customer") from error
        typer.echo(
            mint_customer_token(
                shop_domain=shop,
                customer_id=customer_id,
                secret=settings.token_secret,
                ttl_seconds=CUSTOMER_TOKEN_TTL_SECONDS if ttl is None else ttl,
            )
        )
    elif staff is not None:
        try:
            roles = [StaffRole(value).value for value in role or [StaffRole.FULL.value]]
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--role") from exc
        typer.echo(
            mint_staff_token(
                shop_domain=shop,
                staff_id=staff,
                roles=roles,
                mfa=mfa,
                secret=settings.staff_token_secret,
                ttl_seconds=STAFF_TOKEN_TTL_SECONDS if ttl is None else ttl,
            )
        )
    elif api_key is not None:
        try:
            scopes = [Capability(value) for value in scope or []]
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--scope") from exc
        resolved = _environment()
        try:
            created = asyncio.run(
                create_api_key_for_shop(resolved.settings, shop, label=api_key, scopes=scopes)
            )
        except (LookupError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from exc
        finally:
            resolved.stop()
        console.print(f"API key {created.id} for {shop}; it is shown only this once:")
        typer.echo(created.key)
    else:
        typer.echo(
            mint_session_token(
                shop_domain=shop,
                app_secret=settings.shopify_api_secret,
                api_key=settings.shopify_api_key,
                ttl_seconds=24 * 60 * 60 if ttl is None else ttl,
            )
        )


@app.command()
def compose(
    check: Annotated[bool, typer.Option(help="Fail if generated files are out of date.")] = False,
    check_breaking: Annotated[
        bool,
        typer.Option(
            help="Fail on breaking changes since schema/released/ that the top CHANGELOG.md "
            "section does not list under ### Breaking, or when that section is no version bump."
        ),
    ] = False,
    release: Annotated[
        bool,
        typer.Option(
            help="Release the API: copy its schema into schema/released/ at the top CHANGELOG "
            "section's version."
        ),
    ] = False,
    supergraph: Annotated[
        Path | None, typer.Option(help="Supergraph to check or release (default: the committed).")
    ] = None,
    released: Annotated[
        Path | None, typer.Option(help="Released contract folder (default: schema/released).")
    ] = None,
    changelog: Annotated[
        Path | None, typer.Option(help="Changelog (default: CHANGELOG.md).")
    ] = None,
) -> None:
    """Export each subgraph's SDL to schema/, compose supergraph/, build the PQ manifest."""
    from cli.compose import compose_supergraph, expected_files, write_generated_files

    _require_router()
    if check_breaking or release:
        from cli.contract import run_contract_command

        raise typer.Exit(
            run_contract_command(
                console,
                release=release,
                supergraph=supergraph,
                released_dir=released,
                changelog=changelog,
            )
        )
    if check:
        stale = [
            p for p, text in expected_files().items() if not p.exists() or p.read_text() != text
        ]
        if not SUPERGRAPH_FILE.exists() or SUPERGRAPH_FILE.read_text() != compose_supergraph():
            stale.append(SUPERGRAPH_FILE)
        for path in stale:
            console.print(f"[red]out of date:[/] {path.relative_to(REPO_ROOT)}")
        raise typer.Exit(1 if stale else 0)
    changed = write_generated_files()
    for path in changed:
        console.print(f"wrote {path.relative_to(REPO_ROOT)}")
    if not changed:
        console.print("everything was up to date")


@app.command()
def serve(
    subgraph: Annotated[
        str, typer.Argument(help="points | referrals | analytics | admin | edge (webhooks, auth)")
    ],
    port: Annotated[int | None, typer.Option(help="Port (default: the service's own).")] = None,
) -> None:
    """Serve one subgraph (HTTP + WebSocket on /graphql), or the edge app (webhooks, auth)."""
    import uvicorn

    if subgraph == "edge":
        target, default_port = EDGE_APP, EDGE_PORT
    elif subgraph in SUBGRAPHS:
        target, default_port = SUBGRAPHS[subgraph].app, SUBGRAPHS[subgraph].port
    else:
        raise typer.BadParameter(
            f"unknown service {subgraph!r}; one of {', '.join(SUBGRAPHS)}, edge"
        )
    resolved = _environment()
    try:
        uvicorn.run(
            target,
            host=resolved.settings.host,
            port=port or default_port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            ws_max_size=1 << 20,
            # Only the router opens sockets here, on the same host or network: compressing
            # every frame cost both sides more CPU than the bytes it saved (bench/realtime.py).
            ws_per_message_deflate=False,
            # Longer than the router's pooled-connection idle time (router.yaml
            # subgraphKeepAliveMs), so the router never reuses a socket we are closing.
            timeout_keep_alive=30,
        )
    finally:
        resolved.stop()


@app.command()
def worker() -> None:
    """Run background jobs (arq on Redis)."""
    import asyncio

    import uvloop
    from arq import run_worker

    from worker.settings import worker_settings

    resolved = _environment()
    try:
        # The loop the subgraphs serve on (uvicorn's loop="uvloop"); arq runs on the current
        # one. A job is mostly round trips to Postgres and Redis, and uvloop's cost a round
        # trip was about two thirds of asyncio's here (bench/README.md).
        asyncio.set_event_loop(uvloop.new_event_loop())
        run_worker(worker_settings(resolved.settings))
    finally:
        resolved.stop()


@app.command()
def dev(
    seed_demo: Annotated[
        bool, typer.Option("--seed/--no-seed", help="Seed the demo merchant.")
    ] = True,
) -> None:
    """Run the whole stack: embedded Postgres and Redis, four subgraphs, the edge app
    (webhooks, OAuth), the worker and the router."""
    # A supervisor's SIGTERM must stop the children too, exactly like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    _require_router()
    resolved = _environment()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        settings = resolved.settings
        assert settings.database_url
        upgrade(settings.database_url)
        if seed_demo:
            from cli.seed import seed_demo as run_seed

            asyncio.run(run_seed(settings, DEMO_SHOP))
        env = resolved.child_env()
        python = sys.executable
        for subgraph in SUBGRAPHS.values():
            processes.append(
                subprocess.Popen(
                    [python, "-m", "cli.main", "serve", subgraph.name], env=env, cwd=REPO_ROOT
                )
            )
        edge = subprocess.Popen([python, "-m", "cli.main", "serve", "edge"], env=env, cwd=REPO_ROOT)
        worker_env = {"LOYALNEST_WORKER_METRICS_PORT": str(WORKER_METRICS_PORT), **env}
        processes.append(
            subprocess.Popen([python, "-m", "cli.main", "worker"], env=worker_env, cwd=REPO_ROOT)
        )
        for subgraph, process in zip(SUBGRAPHS.values(), processes, strict=False):
            wait_until_ready(f"http://127.0.0.1:{subgraph.port}/health", process, subgraph.name)
        processes.append(edge)
        wait_until_ready(f"http://127.0.0.1:{EDGE_PORT}/health", edge, "edge")
        router = subprocess.Popen(router_command(), env=env, cwd=ROUTER_DIR)
        processes.append(router)
        endpoint = f"http://{_router_host()}:{_router_port()}/graphql"
        wait_until_ready(f"http://{_router_host()}:{_router_port()}/healthcheck", router, "router")
        _print_welcome(endpoint, settings)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        failed = [p.args for p in processes if p.poll() is not None]
        console.print(f"[red]a process exited, stopping the stack:[/] {failed}")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        stop_all(processes)
        resolved.stop()


def _loyalnest_executable() -> str:
    """How this shell reaches `loyalnest`, so the printed example works without activating."""
    launched = Path(sys.argv[0])
    if launched.name == "loyalnest" and shutil.which("loyalnest") != str(launched.resolve()):
        return str(launched.resolve())
    return "loyalnest"


def _print_welcome(endpoint: str, settings: Settings) -> None:
    demo_token = mint_session_token(
        shop_domain=DEMO_SHOP,
        app_secret=settings.shopify_api_secret,
        api_key=settings.shopify_api_key,
    )
    console.print(f"\n[bold green]LoyalNest is up:[/] {endpoint}")
    console.print(f"demo token for {DEMO_SHOP} (valid 24h; `loyalnest token` makes more):")
    console.print(demo_token, soft_wrap=True, markup=False)
    console.print("\ntry:")
    console.print(
        f"curl -s {endpoint} -H 'content-type: application/json' "
        f'-H "authorization: Bearer $({_loyalnest_executable()} token)" '
        f'-d \'{{"query": "{EXAMPLE_QUERY}"}}\'\n',
        markup=False,
        soft_wrap=True,
    )
    console.print("Ctrl-C stops everything.")


if __name__ == "__main__":
    app()
