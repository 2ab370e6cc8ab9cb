"""DataLoaders of the admin subgraph, built per request for one viewer: each domain's own."""

from __future__ import annotations

from dataclasses import dataclass

from strawberry import Info

from subgraphs.admin.deliveries.loaders import DeliveryLoaders, build_delivery_loaders
from subgraphs.admin.gdpr.loaders import GdprLoaders, build_gdpr_loaders
from subgraphs.admin.merchants.loaders import MerchantLoaders, build_merchant_loaders
from subgraphs.kit.auth import Viewer
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.resources import Resources


@dataclass(frozen=True)
class AdminLoaders:
    merchants: MerchantLoaders
    deliveries: DeliveryLoaders
    gdpr: GdprLoaders


def build_admin_loaders(resources: Resources, viewer: Viewer) -> AdminLoaders:
    return AdminLoaders(
        merchants=build_merchant_loaders(resources, viewer),
        deliveries=build_delivery_loaders(resources, viewer),
        gdpr=build_gdpr_loaders(resources, viewer),
    )


AdminInfo = Info[Context[AdminLoaders], None]
