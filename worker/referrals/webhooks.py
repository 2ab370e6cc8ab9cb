"""The referral program's part of Shopify's webhooks, run by the worker right after the points
handler of the same delivery, in the same transaction (so both commit with the delivery's
"done", or neither): a signup or a paid order carrying a referral code attributes the friend;
the friend's paid order completes the referral; a cancellation or a refund of the qualifying
order cancels the advocate's unreleased reward.

A referral problem never fails a delivery (the points already earned must stand): an unknown
code, a self-referral or an unsupported currency is noted in the delivery's outcome instead.
Each step is idempotent, so a replayed delivery changes nothing twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.models import ReferralReward
from subgraphs.kit.auth_repository import (
    customer_id_for_shopify_customer,
    remembered_shopify_customer,
)
from subgraphs.kit.pubsub import PubSub
from subgraphs.points.customers.service import customer_by_id, customer_email, customer_phone
from subgraphs.points.errors import PointsError
from subgraphs.points.orders.shopify_payloads import ShopifyOrderPayload, parse
from subgraphs.points.program.calculation import to_base_amount
from subgraphs.points.program.service import program_config
from subgraphs.referrals.activity.service import ActivityKind, announce_after_commit
from subgraphs.referrals.conversions import service as conversions
from subgraphs.referrals.conversions.fraud import PartyFacts
from subgraphs.referrals.conversions.payloads import ReferralOrder, ReferralSignup, party_facts
from subgraphs.referrals.conversions.service import AttributionSource, QualifyingOrder
from subgraphs.referrals.service import ReferralError, advocate_of


@dataclass(frozen=True, slots=True)
class ReferralContext:
    session: AsyncSession
    cipher: FieldCipher
    merchant_id: str
    now: datetime
    pubsub: PubSub | None = None  # live activity, announced after the delivery commits

    def announce(self, kind: ActivityKind, referral_id: str | None = None) -> None:
        if self.pubsub is not None:
            announce_after_commit(self.session, self.pubsub, self.merchant_id, kind, referral_id)


async def _advocate_facts(context: ReferralContext, advocate_id: str) -> PartyFacts:
    advocate = await customer_by_id(context.session, context.merchant_id, advocate_id)
    if advocate is None or advocate.redacted_at is not None:
        return PartyFacts()
    return party_facts(
        context.cipher,
        email=customer_email(advocate, context.cipher),
        phone=customer_phone(advocate, context.cipher),
    )


async def _attribute(
    context: ReferralContext,
    code: str,
    friend_id: str,
    friend: PartyFacts,
    source: AttributionSource,
) -> str:
    advocate_id = await advocate_of(context.session, context.merchant_id, code)
    if advocate_id is None:
        return f"referral code {code} is unknown"
    try:
        attribution = await conversions.attribute(
            context.session,
            context.merchant_id,
            code,
            friend_customer_id=friend_id,
            friend=friend,
            advocate=await _advocate_facts(context, advocate_id),
            source=source,
            now=context.now,
        )
    except ReferralError as error:
        return f"referral refused: {error.message}"
    if not attribution.created:
        return "referred already"
    context.announce(ActivityKind.REFERRAL_CREATED, attribution.referral.id)
    return f"referred by code {code} (fraud score {attribution.referral.fraud_score})"


async def after_signup(context: ReferralContext, payload: Mapping[str, Any]) -> str | None:
    signup = ReferralSignup.model_validate(payload)
    code = signup.referral_code()
    if code is None or signup.id is None:
        return None
    friend_id = await customer_id_for_shopify_customer(
        context.session, context.merchant_id, signup.id
    )
    if friend_id is None:
        return None
    facts = signup.facts(context.cipher)
    return await _attribute(context, code, friend_id, facts, AttributionSource.CUSTOMER_CREATE)


async def before_paid_orders(
    session: AsyncSession, merchant_id: str, shopify_customer_ids: Sequence[str]
) -> None:
    """A batch's orders/paid: which of their buyers (those the batch has looked up) nobody
    referred, asked once instead of once an order."""
    known = [
        customer_id
        for shopify_customer_id in shopify_customer_ids
        if (customer_id := remembered_shopify_customer(session, merchant_id, shopify_customer_id))
    ]
    await conversions.look_up_friends(session, merchant_id, known)


async def after_order_paid(context: ReferralContext, payload: Mapping[str, Any]) -> str | None:
    order = ReferralOrder.model_validate(payload)
    if order.customer is None or order.customer.id is None:
        return None
    friend_id = await customer_id_for_shopify_customer(
        context.session, context.merchant_id, order.customer.id
    )
    if friend_id is None:
        return None
    notes = []
    code = order.referral_code()
    if code is not None:
        notes.append(
            await _attribute(
                context, code, friend_id, order.facts(context.cipher), AttributionSource.ORDER
            )
        )
    found = await conversions.pending_referral(context.session, context.merchant_id, friend_id)
    if isinstance(found, conversions.Completion):
        completion = found
    else:
        placed = parse(ShopifyOrderPayload, payload).to_order()
        try:
            config = await program_config(context.session, context.merchant_id)
            subtotal = to_base_amount(config, placed.currency, placed.subtotal)
        except PointsError as error:
            notes.append(f"referral not completed: {error.message}")
            return "; ".join(notes)
        completion = await conversions.complete_pending(
            context.session,
            context.merchant_id,
            found,
            QualifyingOrder(order.id, subtotal, placed.placed_at),
            now=context.now,
        )
    if completion is not conversions.Completion.NOT_REFERRED:
        notes.append(f"referral {completion.value}")
    kind = _COMPLETION_ACTIVITY.get(completion)
    if kind is not None:
        context.announce(kind)
    return "; ".join(notes) or None


async def after_order_cancelled(context: ReferralContext, payload: Mapping[str, Any]) -> str | None:
    order_id = str(payload.get("id", ""))
    cancelled = await conversions.cancel_for_order(
        context.session, context.merchant_id, order_id, reason="orders/cancelled"
    )
    return _cancelled(context, cancelled)


async def after_refund(context: ReferralContext, payload: Mapping[str, Any]) -> str | None:
    order_id = str(payload.get("order_id", ""))
    amount = sum(
        (
            Decimal(str(item.get("subtotal") or 0))
            for item in payload.get("refund_line_items") or []
            if isinstance(item, Mapping)
        ),
        Decimal(0),
    )
    cancelled = await conversions.refund_qualifying_order(
        context.session, context.merchant_id, order_id, amount
    )
    return _cancelled(context, cancelled)


def _cancelled(context: ReferralContext, cancelled: list[ReferralReward]) -> str | None:
    if not cancelled:
        return None
    context.announce(ActivityKind.REWARD_CANCELLED, cancelled[0].referral_id)
    return "advocate's referral reward cancelled"


_COMPLETION_ACTIVITY = {
    conversions.Completion.COMPLETED: ActivityKind.REFERRAL_COMPLETED,
    conversions.Completion.HELD: ActivityKind.REFERRAL_HELD,
    conversions.Completion.EXPIRED: ActivityKind.REFERRAL_EXPIRED,
}
