"""The points subgraph schema: customers and their ledger."""

from subgraphs.kit.schema import build_schema
from subgraphs.points.mutations import Mutation
from subgraphs.points.queries import Query
from subgraphs.points.types import Customer

schema = build_schema(name="points", query=Query, mutation=Mutation, types=[Customer])
