"""What each kind of viewer may do: one table, checked at the top of every guarded resolver.

A merchant (Shopify session token) may do everything with their own shop. LoyalNest staff
act on one shop at a time, with the capabilities of their roles, and only after MFA. API
clients hold the capabilities their key was granted. Customers hold none of these: the few
things they may do are granted by the helpers below (themselves; the storefront catalog), so
anything not explicitly opened to them is denied.

Every guarded resolver starts with one call here; a refusal is FORBIDDEN, never null, so a
client can tell "not yours" from "not there".
"""

from __future__ import annotations

import enum

from subgraphs.kit.auth import Viewer, ViewerKind
from subgraphs.kit.errors import ForbiddenError


class StaffRole(enum.Enum):
    FULL = "admin:full"
    ANALYTICS = "admin:analytics"
    SUPPORT = "admin:support"


class Capability(enum.Enum):
    READ_PROGRAM = "read_program"
    MANAGE_PROGRAM = "manage_program"
    READ_CUSTOMERS = "read_customers"
    WRITE_POINTS = "write_points"
    READ_ANALYTICS = "read_analytics"
    READ_WEBHOOKS = "read_webhooks"
    RETRY_WEBHOOKS = "retry_webhooks"
    READ_GDPR = "read_gdpr"
    READ_AUDIT_LOG = "read_audit_log"
    MANAGE_MERCHANT = "manage_merchant"


ROLE_CAPABILITIES: dict[StaffRole, frozenset[Capability]] = {
    StaffRole.FULL: frozenset(Capability),
    StaffRole.SUPPORT: frozenset(
        {
            Capability.READ_PROGRAM,
            Capability.READ_CUSTOMERS,
            Capability.READ_WEBHOOKS,
            Capability.RETRY_WEBHOOKS,
            Capability.READ_GDPR,
            Capability.READ_AUDIT_LOG,
        }
    ),
    StaffRole.ANALYTICS: frozenset(
        {Capability.READ_PROGRAM, Capability.READ_CUSTOMERS, Capability.READ_ANALYTICS}
    ),
}


def capabilities_of(viewer: Viewer) -> frozenset[Capability]:
    if viewer.kind is ViewerKind.MERCHANT:
        return frozenset(Capability)
    if viewer.kind is ViewerKind.STAFF:
        if not viewer.mfa:
            return frozenset()
        granted: set[Capability] = set()
        for role in StaffRole:
            if role.value in viewer.roles:
                granted |= ROLE_CAPABILITIES[role]
        return frozenset(granted)
    if viewer.kind is ViewerKind.API_CLIENT:
        return frozenset(c for c in Capability if c.value in viewer.roles)
    return frozenset()


def require(viewer: Viewer, capability: Capability) -> Viewer:
    """Return the viewer if it holds the capability; FORBIDDEN otherwise."""
    if capability in capabilities_of(viewer):
        return viewer
    if viewer.kind is ViewerKind.STAFF and not viewer.mfa:
        raise ForbiddenError("multi-factor authentication is required for staff access")
    raise ForbiddenError(f"this {viewer.kind.value} token does not allow {capability.value}")


def may_subscribe(viewer: Viewer) -> bool:
    """Whether a viewer may open a live socket at all (each subscription still checks its
    own capability): customers follow their own points; anyone else needs some capability
    (staff without MFA, or an API key granted nothing, have none)."""
    return viewer.kind is ViewerKind.CUSTOMER or bool(capabilities_of(viewer))


def require_customer_access(
    viewer: Viewer, customer_id: str | None, capability: Capability = Capability.READ_CUSTOMERS
) -> Viewer:
    """Reading (or acting for) one customer: a customer only for themselves; anyone else needs
    ``capability`` (READ_CUSTOMERS to read, WRITE_POINTS to spend or earn for them).
    ``None`` is "nobody" (e.g. an unknown referral code): customers are refused it exactly as
    another customer, so they cannot probe what exists."""
    if viewer.kind is ViewerKind.CUSTOMER:
        if customer_id is not None and viewer.customer_id == customer_id:
            return viewer
        raise ForbiddenError("a customer token may only read or act for its own customer")
    return require(viewer, capability)


def require_catalog_read(viewer: Viewer) -> Viewer:
    """The storefront shows customers what they can redeem and reach (rewards, VIP tiers);
    everyone else reads the catalog with READ_PROGRAM."""
    if viewer.kind is ViewerKind.CUSTOMER:
        return viewer
    return require(viewer, Capability.READ_PROGRAM)
