"""Clients of third-party HTTP APIs (Shopify Admin, Klaviyo, Postscript, Slack) and the one
retry policy they share. Framework-free: services and jobs call them."""
