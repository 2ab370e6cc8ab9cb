"""ASGI app of the referrals subgraph."""

from subgraphs.kit.graphql.app import create_subgraph_app
from subgraphs.referrals.loaders import build_referrals_loaders
from subgraphs.referrals.schema import schema

app = create_subgraph_app(name="referrals", schema=schema, loaders_factory=build_referrals_loaders)
