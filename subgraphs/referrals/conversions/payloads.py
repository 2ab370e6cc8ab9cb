"""What the referral program reads from Shopify's payloads: the referral code a signup or an
order carries, and the facts a referral is scored with (the buyer's IP and browser, shipping
address and phone, as keyed hashes).

Where the code travels: the storefront keeps the ``?ref=`` code the link landed with and adds
it to the signup form as ``customer[note][referral_code]`` (Shopify writes the note line
``referral_code: CODE``) or a ``ref:CODE`` tag, and to the cart as the attribute
``referral_code`` (the order's ``note_attributes``); failing that, the order's
``landing_site`` still holds ``?ref=CODE``."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from db.crypto import FieldCipher
from db.encryption_contexts import REFERRALS_PARTY
from subgraphs.referrals.clicks.service import Visit, visit_hashes
from subgraphs.referrals.conversions.fraud import PartyFacts

CODE_NAMES = ("referral_code", "ref")
_CODE = re.compile(r"^[A-Za-z0-9]{4,32}$")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class _Attribute(_Lenient):
    name: str = ""
    value: str | None = None


class _ClientDetails(_Lenient):
    browser_ip: str | None = None
    user_agent: str | None = None


class _Address(_Lenient):
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    zip: str | None = None
    country_code: str | None = None
    phone: str | None = None

    def key(self) -> str | None:
        parts = [self.address1, self.address2, self.city, self.zip, self.country_code]
        text = " ".join(part.strip().lower() for part in parts if part and part.strip())
        return re.sub(r"[^a-z0-9 ]", "", text) or None


class _Customer(_Lenient):
    id: str | None = None
    email: str | None = None
    phone: str | None = None
    note: str | None = None
    tags: str | None = None
    default_address: _Address | None = None


def _code(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value.upper() if _CODE.match(value) else None


def _digits(phone: str | None) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    return digits if len(digits) >= 6 else None


def party_facts(
    cipher: FieldCipher,
    *,
    email: str | None,
    ip: str | None = None,
    user_agent: str | None = None,
    address: str | None = None,
    phone: str | None = None,
) -> PartyFacts:
    """Facts to score with: IP and browser hashed as clicks are (so they can match a click),
    address and phone under their own key context."""
    _, ip_hash, device_hash = visit_hashes(Visit(ip, user_agent), cipher)
    digits = _digits(phone)
    return PartyFacts(
        email=email,
        ip_hash=ip_hash,
        device_hash=device_hash,
        address_hash=None
        if address is None
        else cipher.blind_index(f"address\x00{address}", context=REFERRALS_PARTY),
        phone_hash=None
        if digits is None
        else cipher.blind_index(f"phone\x00{digits}", context=REFERRALS_PARTY),
    )


class ReferralSignup(_Customer):
    """customers/create, as the referral program reads it."""

    def referral_code(self) -> str | None:
        for line in (self.note or "").splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() in CODE_NAMES:
                return _code(value)
        for tag in (self.tags or "").split(","):
            name, _, value = tag.strip().partition(":")
            if name.lower() in CODE_NAMES:
                return _code(value)
        return None

    def facts(self, cipher: FieldCipher) -> PartyFacts:
        address = self.default_address
        return party_facts(
            cipher,
            email=self.email,
            address=address.key() if address else None,
            phone=self.phone or (address.phone if address else None),
        )


class ReferralOrder(_Lenient):
    """orders/paid, as the referral program reads it."""

    id: str
    email: str | None = None
    phone: str | None = None
    browser_ip: str | None = None
    landing_site: str | None = None
    note_attributes: list[_Attribute] = Field(default_factory=list)
    client_details: _ClientDetails | None = None
    shipping_address: _Address | None = None
    customer: _Customer | None = None

    def referral_code(self) -> str | None:
        for attribute in self.note_attributes:
            if attribute.name.strip().lower() in CODE_NAMES and _code(attribute.value):
                return _code(attribute.value)
        if self.landing_site:
            query = parse_qs(urlsplit(self.landing_site).query)
            for name in CODE_NAMES:
                if query.get(name):
                    return _code(query[name][0])
        return None

    def facts(self, cipher: FieldCipher) -> PartyFacts:
        details = self.client_details or _ClientDetails()
        customer = self.customer or _Customer()
        address = self.shipping_address
        return party_facts(
            cipher,
            email=customer.email or self.email,
            ip=self.browser_ip or details.browser_ip,
            user_agent=details.user_agent,
            address=address.key() if address else None,
            phone=self.phone or customer.phone or (address.phone if address else None),
        )
