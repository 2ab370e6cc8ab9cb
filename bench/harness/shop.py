"""The shop a scenario measures against: `loyalnest seed`'s generator (cli/generated_shop.py)
sized by the scenario's --customers and --orders, in the run's database, with Redis and the
environment our services run with, and a merchant session token for it."""

from __future__ import annotations

import argparse
import os
import uuid
from dataclasses import dataclass

# The project's code: these paths move with it.
from cli.generated_shop import GeneratedShop, ShopShape, generate_shop
from gateway.edge.auth.session_tokens import mint_session_token
from subgraphs.kit.settings import get_settings

from .runner import Bench
from .services import service_env

__all__ = ["ServedShop", "add_shop_arguments", "serve_generated_shop"]


def add_shop_arguments(options: argparse.ArgumentParser, *, customers: int, orders: int) -> None:
    """--customers and --orders: the generated shop's size, with the scenario's defaults."""
    options.add_argument("--customers", type=int, default=customers, help="the shop's customers")
    options.add_argument("--orders", type=int, default=orders, help="the shop's orders")


@dataclass(frozen=True)
class ServedShop:
    domain: str
    made: GeneratedShop
    # What our services run with (service_env): pass it to every process the scenario starts.
    env: dict[str, str]
    # The merchant's session token (a dashboard's credential) for the shop.
    token: str


async def serve_generated_shop(
    bench: Bench, args: argparse.Namespace, *, app_secret: str
) -> ServedShop:
    """Start Redis, generate a shop of ``args.customers`` and ``args.orders`` and mint its
    token. This process takes the services' environment too, so the code a scenario runs
    in-process (the generator, its own queries) reads the same settings as they do."""
    redis = bench.processes.start_redis()
    env = service_env(bench.url, redis.url, bench.scratch, app_secret=app_secret)
    os.environ.update(env)
    get_settings.cache_clear()
    domain = f"bench-{uuid.uuid4().hex[:8]}.myshopify.com"
    made = await generate_shop(
        get_settings(), domain, ShopShape(customers=args.customers, orders=args.orders)
    )
    token = mint_session_token(
        shop_domain=domain, app_secret=app_secret, api_key=env["SHOPIFY_API_KEY"]
    )
    return ServedShop(domain, made, env, token)
