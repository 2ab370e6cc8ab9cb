"""The points subgraph schema: customers, their ledger, the program and its rewards."""

from strawberry.tools import merge_types

from subgraphs.kit.graphql.schema import build_schema
from subgraphs.points.mutations.campaigns import CampaignMutation
from subgraphs.points.mutations.ledger import LedgerMutation
from subgraphs.points.mutations.program import ProgramMutation
from subgraphs.points.mutations.rewards import RewardMutation
from subgraphs.points.mutations.tiers import TierMutation
from subgraphs.points.queries.campaigns import CampaignQuery
from subgraphs.points.queries.customers import CustomerQuery
from subgraphs.points.queries.program import ProgramQuery
from subgraphs.points.queries.rate_limits import RateLimitQuery
from subgraphs.points.queries.rewards import RewardQuery
from subgraphs.points.queries.tiers import TierQuery
from subgraphs.points.subscriptions import Subscription
from subgraphs.points.types.customer import Customer

Query = merge_types(
    "Query",
    (CustomerQuery, ProgramQuery, RateLimitQuery, TierQuery, CampaignQuery, RewardQuery),
)
Mutation = merge_types(
    "Mutation", (LedgerMutation, ProgramMutation, TierMutation, CampaignMutation, RewardMutation)
)

schema = build_schema(
    name="points", query=Query, mutation=Mutation, subscription=Subscription, types=[Customer]
)
