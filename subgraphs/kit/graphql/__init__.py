"""GraphQL plumbing shared by every subgraph: the app, the schema, the request context,
error mapping, Relay connections and the one mutation runner. Only this layer of kit knows
Strawberry and Starlette."""
