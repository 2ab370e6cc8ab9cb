"""The points subgraph, a folder of domains; see ``schema.py`` for how they are merged."""
