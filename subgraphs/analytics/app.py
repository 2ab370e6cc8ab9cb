"""ASGI app of the analytics subgraph."""

from subgraphs.analytics.loaders import build_analytics_loaders
from subgraphs.analytics.schema import schema
from subgraphs.kit.graphql.app import create_subgraph_app

app = create_subgraph_app(name="analytics", schema=schema, loaders_factory=build_analytics_loaders)
