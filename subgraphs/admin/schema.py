"""The admin subgraph schema: merchants, the webhook inbox, GDPR requests, the audit stream,
merchant referrals, each domain contributing its own entry points."""

from strawberry.tools import merge_types

from subgraphs.admin.audit.subscriptions import Subscription as AuditSubscription
from subgraphs.admin.backfill.mutations import Mutation as BackfillMutation
from subgraphs.admin.backfill.queries import Query as BackfillQuery
from subgraphs.admin.backfill.subscriptions import Subscription as BackfillSubscription
from subgraphs.admin.deliveries.mutations import Mutation as DeliveriesMutation
from subgraphs.admin.deliveries.queries import Query as DeliveriesQuery
from subgraphs.admin.gdpr.mutations import Mutation as GdprMutation
from subgraphs.admin.gdpr.queries import Query as GdprQuery
from subgraphs.admin.merchant_referrals.queries import Query as MerchantReferralsQuery
from subgraphs.admin.merchants.queries import Query as MerchantsQuery
from subgraphs.admin.merchants.types import Merchant
from subgraphs.admin.nodes.queries import Query as NodesQuery
from subgraphs.admin.nodes.types import FOREIGN_NODE_TYPES
from subgraphs.kit.graphql.schema import build_schema

Query = merge_types(
    "Query",
    (
        NodesQuery,
        MerchantsQuery,
        DeliveriesQuery,
        GdprQuery,
        BackfillQuery,
        MerchantReferralsQuery,
    ),
)
Mutation = merge_types("Mutation", (DeliveriesMutation, GdprMutation, BackfillMutation))
Subscription = merge_types("Subscription", (AuditSubscription, BackfillSubscription))

schema = build_schema(
    name="admin",
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Merchant, *FOREIGN_NODE_TYPES.values()],
)
