"""ISO code enums shared by every subgraph: currencies (ISO 4217) and countries (ISO 3166-1
alpha-2), generated at import from pycountry's tables so that no code is typed by hand and
every value is described by its official name.

An unknown code never reaches a resolver: GraphQL refuses it while coercing the arguments.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import pycountry
import strawberry


def _iso_enum(name: str, entries: dict[str, str]) -> type[enum.Enum]:
    members: dict[str, Any] = {
        code: strawberry.enum_value(code, description=label)
        for code, label in sorted(entries.items())
    }
    return enum.Enum(name, members)  # type: ignore[return-value]


if TYPE_CHECKING:
    # What type checkers see; the members are generated below, at import.
    class CurrencyCode(enum.Enum):
        value: str

    class CountryCode(enum.Enum):
        value: str

else:
    CurrencyCode = strawberry.enum(
        _iso_enum(
            "CurrencyCode",
            {currency.alpha_3: currency.name for currency in pycountry.currencies},
        ),
        description="An ISO 4217 currency code, e.g. USD (US Dollar).",
    )

    CountryCode = strawberry.enum(
        _iso_enum(
            "CountryCode",
            {country.alpha_2: country.name for country in pycountry.countries},
        ),
        description="An ISO 3166-1 alpha-2 country code, e.g. GB (United Kingdom).",
    )


def code_of(value: enum.Enum | None) -> str | None:
    """The code as the services and the database keep it (a plain string)."""
    return None if value is None else str(value.value)


def currency(code: str) -> CurrencyCode:
    """A stored ISO 4217 code as the enum (stored codes were upper-cased when written)."""
    return CurrencyCode(code.strip().upper())
