"""A generated shop to measure and demo with (long: one place holds every rule that keeps a
generated shop realistic and consistent with the ledger), ``loyalnest seed --customers N``.

- **Deterministic**: one seeded RNG draws everything (ids included, as UUIDv7s of the moment
  they stand for), so a seed and an ``as_of`` day always make the same shop.
- **Shaped like a real one**: signups over two years, more of them lately; how often people
  order is skewed (many order once or never, a few order a lot); order values around $55;
  customers redeem the demo catalog once they can afford it; engaged ones share a referral
  link; locales and countries in the proportions a North American shop sees.
- **Consistent**: points come from the real earning engine (``program.calculation`` over the
  shop's program), spending takes the oldest lots first as the ledger does, and every
  customer's balance, lifetime points, spend and order count are what their ledger says.
  Each customer's tier is the one the tier rules (``tiers.rules.assign_tier``, what the tier
  service applies) give their lifetime points and spend.
- **Fast**: rows are built in memory and loaded with COPY (``kit.bulk``) in one transaction,
  a chunk of customers at a time, the next chunk built (in a thread) while Postgres loads the
  last: at 50,000 customers the foreign-key checks of the load are most of the time, and they
  run on another core than the building.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import random
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import CUSTOMERS_EMAIL, REWARD_REDEMPTIONS_CODE
from db.models import Customer, OrderFactSource, PointsTransactionKind, RewardKind
from db.models import Reward as RewardRow
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.merchants.service import install_merchant
from subgraphs.analytics.orders.repository import OrderFactsRepository
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.pagination import MAX_PAGE_SIZE, PageRequest
from subgraphs.kit.resources import open_resources
from subgraphs.kit.settings import Settings
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.ledger.repository import LedgerRepository
from subgraphs.points.orders.service import earn_key
from subgraphs.points.program.calculation import (
    CustomerFacts,
    EarnAction,
    Order,
    OrderLine,
    calculate,
)
from subgraphs.points.program.service import Channel, ProgramConfig, program_config
from subgraphs.points.rewards import service as rewards
from subgraphs.points.rewards.repository import RedemptionRepository
from subgraphs.points.tiers import service as tiers
from subgraphs.points.tiers.rules import RankedTier, TierFacts, assign_tier
from subgraphs.referrals.repository import ReferralsRepository
from subgraphs.referrals.service import CODE_ALPHABET, CODE_LENGTH

HISTORY = timedelta(days=730)
FIRST_NAMES = (
    "ada", "alan", "amira", "ben", "chloe", "dan", "elena", "farid", "grace", "hana",
    "ivan", "jade", "kofi", "lea", "liam", "maya", "noah", "omar", "priya", "sofia",
)  # fmt: skip
LAST_NAMES = (
    "garcia", "smith", "nguyen", "cohen", "martin", "kim", "haddad", "brown", "lopez",
    "dubois", "patel", "novak", "silva", "tanaka", "wilson", "khan", "rossi", "levi",
)  # fmt: skip
LOCALES = {"en": 70, "es": 10, "fr": 10, "ar": 5, "he": 5}
COUNTRIES = {"US": 50, "CA": 15, "GB": 10, "FR": 8, "DE": 7, "ES": 5, "AU": 5}
# Share of customers who never order, and the chance to redeem after an order once the
# balance affords a reward.
NEVER_ORDER = 0.25
REDEEM_CHANCE = 0.2
# Share of customers with at least three orders who share a referral link.
ADVOCATES = 0.1
# Customers built and loaded at a time: big enough that a chunk's statements are few, small
# enough that building one overlaps loading the one before.
CHUNK = 5000

Progress = Callable[[str, int], None]


class ShopNotEmpty(Exception):
    """The shop has customers already: a generated shop is made into an empty one only."""


@dataclass(frozen=True, slots=True)
class ShopShape:
    customers: int
    orders: int
    seed: int = 1
    # The day the history ends; the default (today, midnight UTC) changes daily, so pass one
    # to make the same shop on another day.
    as_of: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    )

    def __post_init__(self) -> None:
        if self.customers < 1 or self.orders < 0:
            raise ValueError("a shop needs at least one customer and no negative orders")


@dataclass(frozen=True, slots=True)
class GeneratedShop:
    merchant_id: str
    customers: int
    orders: int
    transactions: int
    redemptions: int
    referral_links: int


@dataclass(frozen=True, slots=True)
class _Reward:
    id: str
    title: str
    cost: int
    value: Decimal | None


@dataclass(slots=True)
class _Rows:
    """What the load writes, as COPY records in ``*_COLUMNS`` order."""

    customers: list[tuple[Any, ...]] = field(default_factory=list)
    transactions: list[list[Any]] = field(default_factory=list)
    redemptions: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[Any, ...]] = field(default_factory=list)
    order_facts: list[tuple[Any, ...]] = field(default_factory=list)
    orders: int = 0


CUSTOMER_COLUMNS = (
    "merchant_id", "id", "shopify_customer_id", "email_encrypted", "email_blind_index",
    "locale", "country_code", "points_balance", "total_points_earned", "total_spent",
    "orders_count", "first_order_at", "last_activity_at", "created_at", "vip_tier_id",
)  # fmt: skip
TRANSACTION_COLUMNS = (
    "merchant_id", "id", "customer_id", "kind", "points", "reason", "order_id",
    "idempotency_key", "source", "currency", "explanation", "remaining_points", "created_at",
)  # fmt: skip
REMAINING = TRANSACTION_COLUMNS.index("remaining_points")
REDEMPTION_COLUMNS = (
    "merchant_id", "id", "customer_id", "reward_id", "status", "points_spent",
    "idempotency_key", "code_encrypted", "sandbox", "value_amount", "currency_code",
    "debit_transaction_id", "created_at", "updated_at",
)  # fmt: skip
LINK_COLUMNS = ("merchant_id", "id", "advocate_customer_id", "code", "created_at")
# Analytics' order facts of the same orders (paid when placed; no shipping or taxes, so the
# total is the subtotal; the shop sells in USD only).
ORDER_FACT_COLUMNS = (
    "merchant_id", "id", "shopify_order_id", "customer_id", "created_at", "paid_at",
    "currency", "subtotal", "total", "presentment_currency", "presentment_subtotal",
    "presentment_total", "channel", "region", "source",
)  # fmt: skip


def seeded_id(rng: random.Random, moment: datetime) -> str:
    """A UUIDv7 of ``moment`` whose random bits come from ``rng`` (RFC 9562 layout)."""
    millis = int(moment.timestamp() * 1000)
    value = (millis << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64)
    value |= (0b10 << 62) | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def _order_counts(rng: random.Random, customers: int, orders: int) -> list[int]:
    """Orders per customer: a quarter never order; the others' propensity is log-normal, so
    most order once or twice and a few order dozens of times."""
    propensity = [
        0.0 if rng.random() < NEVER_ORDER else rng.lognormvariate(0, 1.1) for _ in range(customers)
    ]
    if not any(propensity):
        propensity[0] = 1.0
    counts = [0] * customers
    cumulative = list(itertools.accumulate(propensity))
    total = cumulative[-1]
    for _ in range(orders):
        counts[min(bisect.bisect(cumulative, rng.random() * total), customers - 1)] += 1
    return counts


def _signup_time(rng: random.Random, as_of: datetime) -> datetime:
    # sqrt skews signups towards the recent end: a growing shop.
    return as_of - HISTORY * (1 - math.sqrt(rng.random()))


def _order(rng: random.Random, order_number: int, placed_at: datetime, country: str) -> Order:
    total = Decimal(str(round(min(rng.lognormvariate(math.log(55), 0.6), 2000.0), 2)))
    line_count = rng.choice((1, 1, 1, 2, 2, 3))
    cents = int(total * 100)
    cuts = sorted(rng.randint(1, max(cents - 1, 1)) for _ in range(line_count - 1))
    amounts = [b - a for a, b in itertools.pairwise([0, *cuts, cents])]
    return Order(
        order_id=str(5_000_000_000 + order_number),
        currency="USD",
        lines=tuple(
            OrderLine(f"{order_number}-{n}", rng.randint(1, 3), Decimal(amount) / 100)
            for n, amount in enumerate(amounts)
        ),
        channel=Channel.ONLINE,
        placed_at=placed_at,
        country_code=country,
    )


class _Generator:
    """Builds one shop's rows; customer by customer, in time order within each."""

    def __init__(
        self,
        shape: ShopShape,
        merchant_id: str,
        config: ProgramConfig,
        catalog: Sequence[_Reward],
        cipher: FieldCipher,
        tiers: Sequence[RankedTier],
    ) -> None:
        self.rng = random.Random(shape.seed)  # noqa: S311 - reproducible data, not secrets
        # Order facts' ids draw from their own stream, so the rest of the shop stays the
        # shop a seed made before order facts existed.
        self.order_fact_ids = random.Random(f"order-facts:{shape.seed}")  # noqa: S311
        self.shape = shape
        self.merchant_id = merchant_id
        self.config = config
        self.catalog = sorted(catalog, key=lambda reward: reward.cost)
        self.cipher = cipher
        self.tiers = tiers
        self.rows = _Rows()
        self.orders_made = 0

    def chunks(self) -> Iterator[_Rows]:
        """The shop's rows, ``CHUNK`` customers (and everything of theirs) at a time, in the
        order one pass over all of them would build them (the same shop whatever the chunk)."""
        counts = _order_counts(self.rng, self.shape.customers, self.shape.orders)
        for first in range(0, len(counts), CHUNK):
            self.rows = _Rows()
            for number in range(first, min(first + CHUNK, len(counts))):
                self._customer(number, counts[number])
            yield self.rows

    def _customer(self, number: int, order_count: int) -> None:
        rng, as_of = self.rng, self.shape.as_of
        created_at = _signup_time(rng, as_of)
        customer_id = seeded_id(rng, created_at)
        country = _weighted(rng, COUNTRIES)
        email = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}.{number}@example.com"
        ledger = _Ledger(self, customer_id)
        signup = calculate(
            self.config,
            (),
            action=EarnAction.SIGNUP,
            customer=CustomerFacts(created_at, 0, country_code=country),
            order=None,
            at=created_at,
        )
        ledger.credit(signup.points, "signup", f"seed:signup:{customer_id}", created_at, signup)
        spent = Decimal(0)
        placed = sorted(
            created_at + (as_of - created_at) * rng.random() for _ in range(order_count)
        )
        for index, placed_at in enumerate(placed):
            self.rows.orders += 1
            self.orders_made += 1
            order = _order(rng, self.orders_made, placed_at, country)
            result = calculate(
                self.config,
                (),
                action=EarnAction.PURCHASE,
                customer=CustomerFacts(created_at, index, country_code=country),
                order=order,
                at=placed_at,
            )
            spent += order.subtotal
            self._order_fact(order, customer_id)
            ledger.credit(
                result.points,
                f"order {order.order_id}",
                earn_key(order.order_id),
                placed_at,
                result,
                order_id=order.order_id,
            )
            self._maybe_redeem(ledger, placed_at)
        self.rows.customers.append(
            (
                self.merchant_id,
                customer_id,
                str(7_000_000_000 + number),
                self.cipher.encrypt(email, context=CUSTOMERS_EMAIL),
                self.cipher.blind_index(email, context=CUSTOMERS_EMAIL),
                _weighted(rng, LOCALES),
                country,
                ledger.balance,
                ledger.earned,
                spent,
                order_count,
                placed[0] if placed else None,
                ledger.last_activity,
                created_at,
                assign_tier(self.tiers, TierFacts.of(ledger.earned, spent, None)),
            )
        )
        if order_count >= 3 and rng.random() < ADVOCATES:
            code = "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            linked_at = placed[2]
            link_id = seeded_id(rng, linked_at)
            self.rows.links.append((self.merchant_id, link_id, customer_id, code, linked_at))

    def _order_fact(self, order: Order, customer_id: str) -> None:
        placed_at, subtotal = order.placed_at, order.subtotal
        self.rows.order_facts.append(
            (
                self.merchant_id,
                seeded_id(self.order_fact_ids, placed_at),
                order.order_id,
                customer_id,
                placed_at,
                placed_at,
                order.currency,
                subtotal,
                subtotal,
                order.currency,
                subtotal,
                subtotal,
                order.channel.value,
                order.country_code,
                OrderFactSource.SEED.value,
            )
        )

    def _maybe_redeem(self, ledger: _Ledger, after: datetime) -> None:
        rng = self.rng
        affordable = [reward for reward in self.catalog if reward.cost <= ledger.balance]
        if not affordable or rng.random() >= REDEEM_CHANCE:
            return
        reward = rng.choice(affordable)
        at = min(after + timedelta(hours=rng.uniform(1, 72)), self.shape.as_of)
        debit_id = ledger.debit(reward.cost, f"reward: {reward.title}", at)
        redemption_id = seeded_id(rng, at)
        code = "".join(rng.choice(CODE_ALPHABET) for _ in range(10))
        self.rows.redemptions.append(
            (
                self.merchant_id,
                redemption_id,
                ledger.customer_id,
                reward.id,
                "issued",
                reward.cost,
                f"seed:redeem:{redemption_id}",
                self.cipher.encrypt(f"LOYAL-{code}", context=REWARD_REDEMPTIONS_CODE),
                True,
                reward.value,
                "USD" if reward.value is not None else None,
                debit_id,
                at,
                at,
            )
        )


class _Ledger:
    """One customer's ledger as it is written: credits open lots, debits take the oldest
    first (the program's points never expire by default, so oldest means earliest)."""

    def __init__(self, generator: _Generator, customer_id: str) -> None:
        self.generator = generator
        self.customer_id = customer_id
        self.balance = 0
        self.earned = 0
        self.last_activity: datetime | None = None
        self.open_lots: list[list[Any]] = []

    def credit(
        self,
        points: int,
        reason: str,
        key: str,
        at: datetime,
        calculation: Any,
        *,
        order_id: str | None = None,
    ) -> None:
        row = self._row(PointsTransactionKind.EARN, points, reason, key, at, order_id)
        row[TRANSACTION_COLUMNS.index("explanation")] = orjson.dumps(
            calculation.to_explanation()
        ).decode()
        row[TRANSACTION_COLUMNS.index("currency")] = calculation.currency
        if points > 0:
            row[REMAINING] = points
            self.open_lots.append(row)
        self.balance += points
        self.earned += points

    def debit(self, points: int, reason: str, at: datetime) -> str:
        owed = points
        while owed:
            lot = self.open_lots[0]
            taken = min(lot[REMAINING], owed)
            lot[REMAINING] -= taken
            owed -= taken
            if lot[REMAINING] == 0:
                self.open_lots.pop(0)
        self.balance -= points
        row = self._row(PointsTransactionKind.REDEEM, -points, reason, None, at)
        row[TRANSACTION_COLUMNS.index("source")] = "reward"
        return str(row[1])

    def _row(
        self,
        kind: PointsTransactionKind,
        points: int,
        reason: str,
        key: str | None,
        at: datetime,
        order_id: str | None = None,
    ) -> list[Any]:
        """A ledger row; without a business key, one made of the row's own id."""
        generator = self.generator
        row_id = seeded_id(generator.rng, at)
        row: list[Any] = [
            generator.merchant_id,
            row_id,
            self.customer_id,
            kind.value,
            points,
            reason,
            order_id,
            key or f"seed:{kind.value}:{row_id}",
            "purchase" if order_id else ("signup" if points >= 0 else None),
            None,
            "{}",
            None,
            at,
        ]
        generator.rows.transactions.append(row)
        self.last_activity = at if self.last_activity is None else max(self.last_activity, at)
        return row


async def generate_shop(
    settings: Settings,
    shop_domain: str,
    shape: ShopShape,
    progress: Progress = lambda phase, done: None,
) -> GeneratedShop:
    """Make ``shop_domain`` (installed if new, and empty) into a generated shop, loaded in one
    transaction. ``progress("customers", n)`` after each ``n`` customers are loaded."""
    from cli.seed import _seed_catalog

    async with open_resources(settings) as resources:
        async with system_unit_of_work(resources.sessions) as session:
            merchant = await install_merchant(session, shop_domain)
        async with tenant_unit_of_work(resources.sessions, merchant.id) as session:
            customers = await session.scalar(
                select(func.count()).where(Customer.merchant_id == merchant.id)
            )
            if customers:
                raise ShopNotEmpty(f"{shop_domain} has {customers} customers already")
            await _seed_catalog(session, merchant.id)
            config = await program_config(session, merchant.id)
            listed = await rewards.rewards_page(
                session,
                merchant.id,
                PageRequest(MAX_PAGE_SIZE),
                include_inactive=False,
                now=shape.as_of,
            )
            catalog = [
                _Reward(row.id, row.title, row.points_cost, _value(row)) for row in listed.rows
            ]
            ranked = [
                tiers.ranked_tier(row) for row in await tiers.list_tiers(session, merchant.id)
            ]
        generator = _Generator(shape, merchant.id, config, catalog, resources.cipher, ranked)
        made = GeneratedShop(merchant.id, 0, 0, 0, 0, 0)
        async with (
            tenant_unit_of_work(resources.sessions, merchant.id) as session,
            aclosing(_built_ahead(generator.chunks())) as chunks,
        ):
            async for rows in chunks:
                await _load(session, merchant.id, rows)
                progress("customers", len(rows.customers))
                made = GeneratedShop(
                    merchant_id=merchant.id,
                    customers=made.customers + len(rows.customers),
                    orders=made.orders + rows.orders,
                    transactions=made.transactions + len(rows.transactions),
                    redemptions=made.redemptions + len(rows.redemptions),
                    referral_links=made.referral_links + len(rows.links),
                )
        await ledger_changed(resources, merchant.id, reason="generated shop")
        return made


async def _built_ahead(chunks: Iterator[_Rows]) -> AsyncGenerator[_Rows]:
    """``chunks``, each next one built in a thread while the caller loads the one before."""
    building = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        while (rows := await building) is not None:
            building = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            yield rows
    finally:
        # A failed load: the chunk being built is dropped (a thread cannot be interrupted).
        await asyncio.wait([building])


async def _load(session: AsyncSession, merchant_id: str, rows: _Rows) -> None:
    """One chunk, customers first: every other row refers to one of the same chunk."""
    await CustomerRepository(session, merchant_id).copy_in(CUSTOMER_COLUMNS, rows.customers)
    await LedgerRepository(session, merchant_id).copy_in(TRANSACTION_COLUMNS, rows.transactions)
    await RedemptionRepository(session, merchant_id).copy_in(REDEMPTION_COLUMNS, rows.redemptions)
    await ReferralsRepository(session, merchant_id).copy_in(LINK_COLUMNS, rows.links)
    await OrderFactsRepository(session, merchant_id).copy_in(ORDER_FACT_COLUMNS, rows.order_facts)


def _value(reward: RewardRow) -> Decimal | None:
    return reward.value if reward.kind == RewardKind.FIXED_AMOUNT else None
