"""ASGI app of the points subgraph."""

from subgraphs.kit.graphql.app import create_subgraph_app
from subgraphs.points.loaders import build_points_loaders
from subgraphs.points.schema import schema

app = create_subgraph_app(name="points", schema=schema, loaders_factory=build_points_loaders)
