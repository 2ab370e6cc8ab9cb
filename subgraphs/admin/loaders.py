"""DataLoaders of the admin subgraph, built per request for one viewer: each domain's own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import Info
from strawberry.dataloader import DataLoader

from db.models import AuditLog
from subgraphs.admin.audit.repository import AuditLogRepository
from subgraphs.admin.backfill.loaders import BackfillLoaders, build_backfill_loaders
from subgraphs.admin.deliveries.loaders import DeliveryLoaders, build_delivery_loaders
from subgraphs.admin.gdpr.loaders import GdprLoaders, build_gdpr_loaders
from subgraphs.admin.merchant_referrals.loaders import (
    MerchantReferralLoaders,
    build_merchant_referral_loaders,
)
from subgraphs.admin.merchants.loaders import MerchantLoaders, build_merchant_loaders
from subgraphs.kit.auth import Viewer, ViewerKind
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.graphql.loaders import by_id_loader, tenant_loader
from subgraphs.kit.node_repository import NodeRepository
from subgraphs.kit.resources import Resources


@dataclass(frozen=True)
class AdminLoaders:
    merchants: MerchantLoaders
    deliveries: DeliveryLoaders
    gdpr: GdprLoaders
    backfill: BackfillLoaders
    merchant_referrals: MerchantReferralLoaders
    # Refetches of audit entries by global ID (node/nodes).
    audit_entry_by_id: DataLoader[str, AuditLog | None]
    # (type name, row id) of another subgraph's type -> whether the viewer's merchant has it.
    node_exists: DataLoader[tuple[str, str], bool]


def build_admin_loaders(resources: Resources, viewer: Viewer) -> AdminLoaders:
    async def load_existence(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> list[bool]:
        by_type: dict[str, list[str]] = {}
        for type_name, row_id in keys:
            by_type.setdefault(type_name, []).append(row_id)
        repository = NodeRepository(session, viewer.merchant_id)
        # A storefront (customer) token sees only its own customer's rows.
        for_customer = viewer.customer_id if viewer.kind is ViewerKind.CUSTOMER else None
        found = {
            (type_name, row_id)
            for type_name, row_ids in by_type.items()
            for row_id in await repository.existing_ids(
                type_name, row_ids, for_customer=for_customer
            )
        }
        return [key in found for key in keys]

    return AdminLoaders(
        merchants=build_merchant_loaders(resources, viewer),
        deliveries=build_delivery_loaders(resources, viewer),
        gdpr=build_gdpr_loaders(resources, viewer),
        backfill=build_backfill_loaders(resources, viewer),
        merchant_referrals=build_merchant_referral_loaders(resources, viewer),
        audit_entry_by_id=by_id_loader(
            resources,
            viewer.merchant_id,
            lambda session, ids: AuditLogRepository(session, viewer.merchant_id).entries_by_ids(
                ids
            ),
        ),
        node_exists=tenant_loader(resources, viewer.merchant_id, load_existence),
    )


AdminInfo = Info[Context[AdminLoaders], None]
