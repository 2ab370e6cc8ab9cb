"""The message types a merchant sends, and since when: ``notification_settings.message_types``
holds each type switched on with the moment it was (ISO 8601), so the flows never send an event
from before it (``flows.py``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime


class MessageType(enum.StrEnum):
    POINTS_EARNED = "points_earned"
    REWARD_REDEEMED = "reward_redeemed"
    TIER_UPGRADED = "tier_upgraded"
    REFERRAL_COMPLETED = "referral_completed"
    EXPIRY_REMINDER = "expiry_reminder"
    GDPR_DONE = "gdpr_done"


# On for a merchant who has not chosen: what answers something the customer did (a reward's
# code, a tier reached, a referral paid, a privacy request) and the expiry reminder (sent
# since before the choice existed). Off: points earned, which would mail on every order;
# most merchants keep it for their own Klaviyo flows.
DEFAULT_MESSAGE_TYPES = frozenset(MessageType) - {MessageType.POINTS_EARNED}


def enabled_since(stored: Mapping[str, str]) -> dict[MessageType, datetime]:
    """The message types a merchant sends (``notification_settings.message_types``), each
    with the moment it was switched on: events from before it are not sent."""
    return {
        MessageType(kind): datetime.fromisoformat(since)
        for kind, since in stored.items()
        if kind in MessageType.__members__.values()
    }


def message_types_after(
    stored: Mapping[str, str] | None,
    chosen: Sequence[MessageType] | None,
    *,
    restart: bool,
    now: datetime,
) -> dict[str, str]:
    """The new ``message_types``: a type kept on keeps its moment, one switched on starts
    now, and so does every type when sending starts again (``restart``: a provider chosen
    after none), so nothing from the time it was off is sent as a backlog."""
    kept = {} if stored is None or restart else dict(stored)
    kinds = (
        (DEFAULT_MESSAGE_TYPES if stored is None else {MessageType(k) for k in stored})
        if chosen is None
        else set(chosen)
    )
    return {kind.value: kept.get(kind.value, now.isoformat()) for kind in sorted(kinds)}
