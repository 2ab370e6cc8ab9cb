"""Write entry points of the points subgraph, one module per domain; merged in schema.py.
Each one unpacks its input, calls the service in one unit of work, publishes after commit and
shapes the payload; expected failures come back as userErrors."""
