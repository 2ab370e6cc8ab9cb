"""The Shopify backfill at install, carried out by the worker: it may use the points and
analytics services, which the admin subgraph (the owner of the run) may not."""
