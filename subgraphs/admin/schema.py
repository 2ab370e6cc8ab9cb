"""The admin subgraph schema: merchants."""

from subgraphs.admin.queries import Query
from subgraphs.admin.types import Merchant
from subgraphs.kit.schema import build_schema

schema = build_schema(name="admin", query=Query, types=[Merchant])
