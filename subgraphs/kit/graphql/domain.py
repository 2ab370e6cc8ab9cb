"""How a service's vocabulary reaches GraphQL: its enums as GraphQL enums, and the
``DisplayableError`` interface every domain's userError type implements.

Services define their enums (error codes, statuses) without knowing GraphQL; the GraphQL
layer exposes the very same enum, so a resolver never translates one enum into another.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

import strawberry

EnumT = TypeVar("EnumT", bound=type[enum.Enum])


def domain_enum(
    service_enum: EnumT,
    *,
    name: str,
    description: str,
    values: Mapping[str, str] | None = None,
) -> EnumT:
    """``service_enum`` as the GraphQL enum ``name``; ``values`` describes its members (by
    member name), and must then describe every one of them."""
    exposed = strawberry.enum(service_enum, name=name, description=description)
    if values is not None:
        definition = exposed.__strawberry_definition__  # type: ignore[attr-defined]
        members = {value.name for value in definition.values}
        if set(values) != members:
            raise ValueError(f"{name}: describe exactly the members {sorted(members)}")
        for value in definition.values:
            value.description = values[value.name]
    return exposed


@strawberry.interface(
    description="An error a client can show its user: what went wrong (`message`) and, when "
    "an input field is at fault, the path to it (`field`). Every domain's userError type "
    "implements it and adds its own `code`."
)
class DisplayableError:
    """The one error contract of the API (after Shopify Admin's ``DisplayableError``): every
    domain's userError type implements it and adds its ``code``, typed by its own
    ``...ErrorCode`` enum, by subclassing ``kit.graphql.user_errors.UserError[ItsErrorCode]``
    (``kit.graphql.mutations.user_error_of`` fills all three). Defined here once, so each
    subgraph prints it identically and composition merges it."""

    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault, starting at the mutation's argument "
        '(e.g. ["input", "points"]); null when the error is not about one field.'
    )
    message: str = strawberry.field(description="What went wrong, for people.")
