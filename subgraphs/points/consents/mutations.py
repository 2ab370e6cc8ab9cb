"""Granting and revoking consents: by the customer in the widget, or by staff on request."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.auth import ViewerKind
from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.permissions import Capability
from subgraphs.points.consents import service
from subgraphs.points.consents.types import (
    CustomerConsent,
    CustomerConsentUpdateInput,
    CustomerConsentUpdatePayload,
)
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.user_errors import points_mutation


@strawberry.mutation(
    description="Grant or revoke a customer's consents. A customer token acts for its own "
    "customer (recorded as WIDGET, with a keyed hash of the IP); staff and the merchant act "
    "on the customer's request. Every change is kept with its time and text version."
)
async def customer_consent_update(
    info: PointsInfo,
    input: Annotated[
        CustomerConsentUpdateInput,
        strawberry.argument(description="The customer and their choices."),
    ],
) -> CustomerConsentUpdatePayload:
    customer_id = local_id(input.customer_id, "Customer")
    viewer = info.context.viewer
    by_customer = viewer.kind is ViewerKind.CUSTOMER
    source = (
        service.ConsentSource.WIDGET
        if by_customer
        else service.ConsentSource(input.source or service.ConsentSource.STAFF)
    )
    client = info.context.request.client
    ip = client.host if by_customer and client is not None else None
    changes = [
        service.ConsentChange(service.ConsentType(c.type), service.ConsentStatus(c.status))
        for c in input.consents
    ]
    return await points_mutation(
        info,
        CustomerConsentUpdatePayload,
        lambda scope: service.update_consents(
            scope.write,
            scope.resources.cipher,
            customer_id,
            changes,
            source=source,
            text_version=input.text_version,
            ip=ip,
        ),
        lambda rows: CustomerConsentUpdatePayload(
            consents=[CustomerConsent.from_row(row) for row in rows]
        ),
        capability=Capability.WRITE_POINTS,
        for_customer=customer_id,
    )


ConsentMutation = create_type("ConsentMutation", [customer_consent_update])
