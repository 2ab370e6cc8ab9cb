"""The analytics subgraph schema: loyalty metrics on the merchant, and live."""

from subgraphs.analytics.subscriptions import Subscription
from subgraphs.analytics.types import Merchant
from subgraphs.kit.graphql.schema import build_schema

schema = build_schema(name="analytics", subscription=Subscription, types=[Merchant])
