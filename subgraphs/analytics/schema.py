"""The analytics subgraph schema: loyalty metrics on the merchant and live, RFM settings and
segment counts, ROI and the points liability, retention cohorts, and a customer's RFM scores
on the federated Customer."""

from strawberry.tools import merge_types

from subgraphs.analytics.retention.queries import RetentionQuery
from subgraphs.analytics.rfm.mutations import RfmMutation
from subgraphs.analytics.rfm.queries import RfmQuery
from subgraphs.analytics.rfm.types import Customer
from subgraphs.analytics.roi.queries import ReturnQuery
from subgraphs.analytics.subscriptions import Subscription
from subgraphs.analytics.types import Merchant
from subgraphs.kit.graphql.schema import build_schema

Query = merge_types("Query", (RfmQuery, ReturnQuery, RetentionQuery))
Mutation = merge_types("Mutation", (RfmMutation,))

schema = build_schema(
    name="analytics",
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Merchant, Customer],
)
