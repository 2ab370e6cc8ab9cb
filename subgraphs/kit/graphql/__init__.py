"""GraphQL plumbing shared by every subgraph: the app, the schema, the request context and its
loaders, error mapping, domain enums and user errors, Relay connections, the one mutation
runner and live snapshots for subscriptions. Only this layer of kit knows Strawberry and
Starlette."""
