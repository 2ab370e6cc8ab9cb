"""The points subgraph schema: every domain's queries, mutations and subscriptions, merged."""

from strawberry.tools import merge_types

from subgraphs.kit.graphql.schema import build_schema
from subgraphs.points.campaigns.mutations import CampaignMutation
from subgraphs.points.campaigns.queries import CampaignQuery
from subgraphs.points.consents.mutations import ConsentMutation
from subgraphs.points.customers.queries import CustomerQuery
from subgraphs.points.customers.subscriptions import Subscription as CustomerSubscription
from subgraphs.points.customers.types import Customer
from subgraphs.points.imports.mutations import DataImportMutation
from subgraphs.points.imports.queries import DataImportQuery
from subgraphs.points.imports.subscriptions import DataImportSubscription
from subgraphs.points.ledger.mutations import LedgerMutation
from subgraphs.points.ledger.queries import LedgerQuery
from subgraphs.points.notifications.mutations import NotificationMutation
from subgraphs.points.notifications.queries import NotificationQuery
from subgraphs.points.orders.mutations import OrderMutation
from subgraphs.points.program.mutations import ProgramMutation
from subgraphs.points.program.queries import ProgramQuery, RateLimitQuery
from subgraphs.points.rewards.mutations import RewardMutation
from subgraphs.points.rewards.queries import RewardQuery
from subgraphs.points.tiers.mutations import TierMutation
from subgraphs.points.tiers.queries import TierQuery

Query = merge_types(
    "Query",
    (
        CustomerQuery,
        ProgramQuery,
        LedgerQuery,
        RateLimitQuery,
        TierQuery,
        CampaignQuery,
        RewardQuery,
        NotificationQuery,
        DataImportQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        LedgerMutation,
        OrderMutation,
        ProgramMutation,
        TierMutation,
        CampaignMutation,
        RewardMutation,
        NotificationMutation,
        ConsentMutation,
        DataImportMutation,
    ),
)
Subscription = merge_types("Subscription", (CustomerSubscription, DataImportSubscription))

schema = build_schema(
    name="points", query=Query, mutation=Mutation, subscription=Subscription, types=[Customer]
)
