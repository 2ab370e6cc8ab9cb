"""GraphQL types of the points subgraph, one module per domain object."""
