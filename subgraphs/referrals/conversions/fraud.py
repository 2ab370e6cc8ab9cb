"""How suspicious a referral looks: a score from 0 to 1 with a named reason for every signal,
so the merchant reviewing a held referral sees why, as the points trace explains an award.

Signals compare the friend with the advocate — the same IP or device, the same mailbox
(plus-addressing and Gmail's dots removed) or a near-identical address, the same shipping
address or phone — and look at the friend alone (a throw-away email domain, from the maintained
``disposable-email-domains`` list) and at the advocate's pace (many referrals in a day).
Independent signals combine as a noisy OR: ``1 - prod(1 - weight)``, so two weak signals
outweigh one, and no pile of them passes 1."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from rapidfuzz.distance import Levenshtein


class FraudReason(enum.StrEnum):
    SAME_IP = "same_ip"
    SAME_DEVICE = "same_device"
    SAME_MAILBOX = "same_mailbox"
    SIMILAR_EMAIL = "similar_email"
    DISPOSABLE_EMAIL = "disposable_email"
    SAME_ADDRESS = "same_address"
    SAME_PHONE = "same_phone"
    REFERRAL_BURST = "referral_burst"


WEIGHTS = {
    FraudReason.SAME_IP: Decimal("0.6"),
    FraudReason.SAME_DEVICE: Decimal("0.7"),
    FraudReason.SAME_MAILBOX: Decimal("0.9"),
    FraudReason.SIMILAR_EMAIL: Decimal("0.5"),
    FraudReason.DISPOSABLE_EMAIL: Decimal("0.5"),
    FraudReason.SAME_ADDRESS: Decimal("0.8"),
    FraudReason.SAME_PHONE: Decimal("0.8"),
    FraudReason.REFERRAL_BURST: Decimal("0.4"),
}
# Local parts this close (edits) are the same person typing a variant, when long enough
# that two strangers rarely come this close.
SIMILAR_EDITS = 2
SIMILAR_MIN_LENGTH = 6
# An advocate bringing this many friends within a day is farming, not sharing.
BURST_PER_DAY = 5
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


@dataclass(frozen=True, slots=True)
class PartyFacts:
    """What is known of one side: its email, and keyed hashes of its IP, device, shipping
    address and phone (any may be unknown)."""

    email: str | None = None
    ip_hash: str | None = None
    device_hash: str | None = None
    address_hash: str | None = None
    phone_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    reason: FraudReason
    weight: Decimal
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"reason": self.reason.value, "weight": str(self.weight), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class FraudScore:
    score: Decimal
    signals: tuple[Signal, ...]

    def reasons(self) -> list[dict[str, str]]:
        return [signal.to_json() for signal in self.signals]


def mailbox(email: str) -> tuple[str, str]:
    """The mailbox an address delivers to: lower-cased, without a ``+tag``, and without dots
    where the provider ignores them (Gmail)."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return local, domain


def _email_signals(advocate: str | None, friend: str | None) -> list[Signal]:
    if friend is None:
        return []
    signals = []
    friend_local, friend_domain = mailbox(friend)
    if friend_domain in DISPOSABLE_DOMAINS:
        signals.append(_signal(FraudReason.DISPOSABLE_EMAIL, f"{friend_domain} is throw-away"))
    if advocate is None:
        return signals
    advocate_local, advocate_domain = mailbox(advocate)
    if (friend_local, friend_domain) == (advocate_local, advocate_domain):
        signals.append(_signal(FraudReason.SAME_MAILBOX, "delivers to the advocate's mailbox"))
    elif (
        friend_domain == advocate_domain
        and min(len(friend_local), len(advocate_local)) >= SIMILAR_MIN_LENGTH
        and Levenshtein.distance(friend_local, advocate_local) <= SIMILAR_EDITS
    ):
        edits = Levenshtein.distance(friend_local, advocate_local)
        signals.append(
            _signal(FraudReason.SIMILAR_EMAIL, f"{edits} edit(s) from the advocate's email")
        )
    return signals


def _signal(reason: FraudReason, detail: str) -> Signal:
    return Signal(reason, WEIGHTS[reason], detail)


def score_referral(
    advocate: PartyFacts, friend: PartyFacts, *, advocate_referrals_today: int
) -> FraudScore:
    """The score of a friend referred by ``advocate``, who brought
    ``advocate_referrals_today`` other friends in the last 24 hours."""
    signals = _email_signals(advocate.email, friend.email)
    for reason, mine, theirs, what in (
        (FraudReason.SAME_IP, advocate.ip_hash, friend.ip_hash, "IP address"),
        (FraudReason.SAME_DEVICE, advocate.device_hash, friend.device_hash, "device"),
        (FraudReason.SAME_ADDRESS, advocate.address_hash, friend.address_hash, "address"),
        (FraudReason.SAME_PHONE, advocate.phone_hash, friend.phone_hash, "phone"),
    ):
        if mine is not None and mine == theirs:
            signals.append(_signal(reason, f"the advocate's {what}"))
    if advocate_referrals_today + 1 >= BURST_PER_DAY:
        signals.append(
            _signal(
                FraudReason.REFERRAL_BURST,
                f"{advocate_referrals_today + 1} referrals from the advocate within a day",
            )
        )
    clean = Decimal(1)
    for signal in signals:
        clean *= 1 - signal.weight
    score = (1 - clean).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    return FraudScore(score=score, signals=tuple(signals))
