"""The admin subgraph schema: merchants, the webhook inbox, GDPR requests, the audit stream."""

from subgraphs.admin.mutations import Mutation
from subgraphs.admin.queries import Query
from subgraphs.admin.subscriptions import Subscription
from subgraphs.admin.types import Merchant
from subgraphs.kit.graphql.schema import build_schema

schema = build_schema(
    name="admin", query=Query, mutation=Mutation, subscription=Subscription, types=[Merchant]
)
