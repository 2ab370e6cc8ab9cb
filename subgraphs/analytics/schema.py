"""The analytics subgraph schema: loyalty metrics on the merchant and live, RFM settings and
segment counts, ROI and the points liability (live and as daily snapshots), retention
cohorts, churn, the staff's shop comparison, and a customer's RFM scores and churn on the
federated Customer."""

from strawberry.tools import merge_types

from subgraphs.analytics.churn.mutations import ChurnMutation
from subgraphs.analytics.churn.queries import ChurnQuery
from subgraphs.analytics.retention.queries import RetentionQuery
from subgraphs.analytics.rfm.mutations import RfmMutation
from subgraphs.analytics.rfm.queries import RfmQuery
from subgraphs.analytics.rfm.types import Customer
from subgraphs.analytics.roi.queries import ReturnQuery
from subgraphs.analytics.roi.snapshots.queries import SnapshotQuery
from subgraphs.analytics.staff.queries import StaffQuery
from subgraphs.analytics.subscriptions import Subscription
from subgraphs.analytics.suggestions.mutations import SuggestionMutation
from subgraphs.analytics.suggestions.queries import SuggestionQuery
from subgraphs.analytics.types import Merchant
from subgraphs.kit.graphql.schema import build_schema

Query = merge_types(
    "Query",
    (
        RfmQuery,
        ReturnQuery,
        SnapshotQuery,
        RetentionQuery,
        ChurnQuery,
        SuggestionQuery,
        StaffQuery,
    ),
)
Mutation = merge_types("Mutation", (RfmMutation, ChurnMutation, SuggestionMutation))

schema = build_schema(
    name="analytics",
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Merchant, Customer],
)
