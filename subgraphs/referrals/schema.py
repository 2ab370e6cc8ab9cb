"""The referrals subgraph schema: referral links attached to customers, the program's
settings, and the referrals they bring."""

from strawberry.tools import merge_types

from subgraphs.kit.graphql.schema import build_schema
from subgraphs.referrals.activity.subscriptions import Subscription
from subgraphs.referrals.conversions.mutations import ReferralDecisionMutation
from subgraphs.referrals.conversions.queries import ReferralQuery
from subgraphs.referrals.conversions.types import Customer, Referral
from subgraphs.referrals.mutations import Mutation as LinkMutation
from subgraphs.referrals.program.mutations import ReferralProgramMutation
from subgraphs.referrals.program.queries import ReferralProgramQuery
from subgraphs.referrals.queries import Query as LinkQuery
from subgraphs.referrals.shares.mutations import ReferralShareMutation
from subgraphs.referrals.types import ReferralLink

Query = merge_types("Query", (LinkQuery, ReferralProgramQuery, ReferralQuery))
Mutation = merge_types(
    "Mutation",
    (LinkMutation, ReferralProgramMutation, ReferralDecisionMutation, ReferralShareMutation),
)

schema = build_schema(
    name="referrals",
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Customer, ReferralLink, Referral],
)
