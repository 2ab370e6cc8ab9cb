"""Read entry points of the points subgraph, one module per domain; merged in schema.py."""
