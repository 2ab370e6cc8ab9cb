"""Fraud scoring of a referral: every signal named, combined as a noisy OR, the mailbox rules
(plus-addressing, Gmail's dots) and the disposable-domain list from its package."""

from __future__ import annotations

from decimal import Decimal

import pytest

from subgraphs.referrals.conversions.fraud import (
    BURST_PER_DAY,
    WEIGHTS,
    FraudReason,
    PartyFacts,
    mailbox,
    score_referral,
)


def reasons(advocate: PartyFacts, friend: PartyFacts, today: int = 0) -> set[FraudReason]:
    score = score_referral(advocate, friend, advocate_referrals_today=today)
    return {signal.reason for signal in score.signals}


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("Ada.Lovelace+promo@Example.com", ("ada.lovelace", "example.com")),
        ("a.d.a+x@gmail.com", ("ada", "gmail.com")),
        ("ada@googlemail.com", ("ada", "googlemail.com")),
    ],
)
def test_the_mailbox_an_address_delivers_to(email: str, expected: tuple[str, str]) -> None:
    assert mailbox(email) == expected


def test_a_stranger_scores_zero() -> None:
    score = score_referral(
        PartyFacts(email="ada@example.com", ip_hash="ip1", address_hash="a1"),
        PartyFacts(email="grace@example.org", ip_hash="ip2", address_hash="a2"),
        advocate_referrals_today=0,
    )
    assert score.score == Decimal(0)
    assert score.signals == ()


def test_each_signal_is_named() -> None:
    advocate = PartyFacts(
        email="ada.lovelace@example.com",
        ip_hash="ip",
        device_hash="dev",
        address_hash="addr",
        phone_hash="ph",
    )
    assert reasons(advocate, PartyFacts(email="ada.lovelace+2@example.com")) == {
        FraudReason.SAME_MAILBOX
    }
    assert reasons(advocate, PartyFacts(email="ada.lovelac3@example.com")) == {
        FraudReason.SIMILAR_EMAIL
    }
    assert reasons(advocate, PartyFacts(email="x@mailinator.com")) == {FraudReason.DISPOSABLE_EMAIL}
    assert reasons(advocate, PartyFacts(ip_hash="ip", device_hash="dev")) == {
        FraudReason.SAME_IP,
        FraudReason.SAME_DEVICE,
    }
    assert reasons(advocate, PartyFacts(address_hash="addr", phone_hash="ph")) == {
        FraudReason.SAME_ADDRESS,
        FraudReason.SAME_PHONE,
    }
    assert reasons(advocate, PartyFacts(), today=BURST_PER_DAY - 1) == {FraudReason.REFERRAL_BURST}
    assert reasons(advocate, PartyFacts(), today=BURST_PER_DAY - 2) == set()


def test_short_or_cross_domain_lookalikes_are_not_similar() -> None:
    # Two strangers' short names are often two edits apart; another domain is another person.
    assert (
        reasons(PartyFacts(email="ann@example.com"), PartyFacts(email="amy@example.com")) == set()
    )
    assert (
        reasons(PartyFacts(email="lovelace@example.com"), PartyFacts(email="lovelace@example.org"))
        == set()
    )


def test_signals_combine_as_a_noisy_or() -> None:
    score = score_referral(
        PartyFacts(ip_hash="ip"),
        PartyFacts(ip_hash="ip", email="x@mailinator.com"),
        advocate_referrals_today=0,
    )
    expected = 1 - (1 - WEIGHTS[FraudReason.SAME_IP]) * (1 - WEIGHTS[FraudReason.DISPOSABLE_EMAIL])
    assert score.score == expected.quantize(Decimal("0.001"))
    assert [reason["reason"] for reason in score.reasons()] == ["disposable_email", "same_ip"]
    everything = score_referral(
        PartyFacts("a@example.com", "i", "d", "ad", "p"),
        PartyFacts("a+1@example.com", "i", "d", "ad", "p"),
        advocate_referrals_today=10,
    )
    assert Decimal("0.99") < everything.score <= 1
