"""ASGI app of the admin subgraph."""

from subgraphs.admin.loaders import build_admin_loaders
from subgraphs.admin.schema import schema
from subgraphs.kit.graphql.app import create_subgraph_app

app = create_subgraph_app(name="admin", schema=schema, loaders_factory=build_admin_loaders)
