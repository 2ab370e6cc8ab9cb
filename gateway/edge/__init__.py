"""The edge app: the public HTTP ingress that is not GraphQL — Shopify webhooks, OAuth install,
the app proxy that gives storefront customers their tokens."""
