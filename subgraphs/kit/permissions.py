"""What each kind of viewer may do: one table, checked at the top of every guarded resolver.

A merchant (Shopify session token) may do everything with their own shop. LoyalNest staff
act on one shop at a time, with the capabilities of their roles, and only after MFA. API
clients hold the capabilities their key was granted. Customers hold none of these: the few
things they may do (read themselves, redeem) are checked where they happen.
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
