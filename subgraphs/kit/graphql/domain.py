"""How a service's vocabulary reaches GraphQL: its enums as GraphQL enums, and the fields every
domain's userError type shares.

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


@strawberry.type(description="An expected failure of a mutation.")
class UserError:
    """The fields every domain's userError type starts with; each adds its ``code``, typed by
    its own ``...ErrorCode`` enum (``kit.graphql.mutations.user_error_of`` fills all three)."""

    field: list[str] | None = strawberry.field(description="Path to the input field at fault.")
    message: str = strawberry.field(description="What went wrong, for people.")
