"""The referrals subgraph schema: referral links, attached to customers."""

from subgraphs.kit.graphql.schema import build_schema
from subgraphs.referrals.mutations import Mutation
from subgraphs.referrals.queries import Query
from subgraphs.referrals.types import Customer

schema = build_schema(name="referrals", query=Query, mutation=Mutation, types=[Customer])
