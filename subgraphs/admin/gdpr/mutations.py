"""Write entry points of the GDPR domain."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db.models import GdprRequest as GdprRequestRow
from subgraphs.admin.gdpr import filed, service
from subgraphs.admin.gdpr.types import GdprRequest
from subgraphs.admin.loaders import AdminInfo
from subgraphs.kit.graphql.domain import DisplayableError, domain_enum
from subgraphs.kit.graphql.mutations import run_mutation
from subgraphs.kit.permissions import Capability

GdprRequestKind = domain_enum(
    filed.FiledRequestKind,
    name="GdprRequestKind",
    description="A privacy request a customer made to the merchant outside Shopify.",
    values={
        "ACCESS": "Access (GDPR art. 15, CCPA right to know): export their data.",
        "ERASURE": "Erasure (GDPR art. 17, CCPA right to delete): erase their data.",
        "CCPA_OPT_OUT": "Do not sell or share (CCPA): revoke their newsletter and RFM "
        "tracking consents.",
    },
)
GdprErrorCode = domain_enum(
    service.GdprErrorCode,
    name="GdprErrorCode",
    description="Why a GDPR request could not be carried out.",
    values={
        "INVALID_PAYLOAD": "The customer is not identified (an email or a Shopify customer id "
        "is required) or a field is malformed; the field says which.",
        "SHOP_STILL_INSTALLED": "Not for filed requests: shop/redact of an installed shop.",
        "SHOP_REDACT_INCOMPLETE": "Not for filed requests: shop/redact left rows behind.",
    },
)


@strawberry.type(description="An expected failure of `gdprRequestCreate`.")
class GdprUserError(DisplayableError):
    code: GdprErrorCode = strawberry.field(description="What went wrong, for programs.")  # type: ignore[valid-type]


@strawberry.input(description="A privacy request received outside Shopify.")
class GdprRequestCreateInput:
    kind: GdprRequestKind = strawberry.field(description="What the customer asked for.")  # type: ignore[valid-type]
    email: str | None = strawberry.field(
        default=None, description="The customer's email (or give shopifyCustomerId)."
    )
    shopify_customer_id: str | None = strawberry.field(
        default=None, description="The customer's Shopify id (or give email)."
    )
    orders: list[str] = strawberry.field(
        default_factory=list,
        description="Shopify order ids the request covers (access: to export; erasure: to redact).",
    )


@strawberry.type(description="Result of `gdprRequestCreate`.")
class GdprRequestCreatePayload:
    gdpr_request: GdprRequest | None = strawberry.field(
        default=None,
        description="The request: PENDING while an access request's export is being built, "
        "COMPLETED otherwise; null when refused.",
    )
    user_errors: list[GdprUserError] = strawberry.field(
        default_factory=list, description="Why nothing was done."
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="File a privacy request the merchant received outside Shopify and carry "
        "it out as Shopify's webhooks are: an access request is accepted PENDING and its "
        "export built in the background (COMPLETED, then see `exportDownload`), an erasure "
        "redacts at once, a CCPA opt-out revokes marketing and RFM tracking consents at once. "
        "Audited. Needs the manage_merchant capability."
    )
    async def gdpr_request_create(
        self,
        info: AdminInfo,
        input: Annotated[
            GdprRequestCreateInput,
            strawberry.argument(description="The request and whom it is about."),
        ],
    ) -> GdprRequestCreatePayload:
        async def respond(row: GdprRequestRow) -> GdprRequestCreatePayload:
            await filed.after_filing(info.context.resources, row)
            return GdprRequestCreatePayload(gdpr_request=GdprRequest.from_row(row))

        request = filed.FiledRequest(
            kind=filed.FiledRequestKind(input.kind),
            email=input.email,
            shopify_customer_id=input.shopify_customer_id,
            orders=input.orders,
        )
        return await run_mutation(
            info,
            capability=Capability.MANAGE_MERCHANT,
            perform=lambda scope: filed.file_request(scope.write, scope.resources.cipher, request),
            respond=respond,
            payload=GdprRequestCreatePayload,
            user_error=GdprUserError,
        )
