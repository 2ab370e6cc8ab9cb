"""The Shopify backfill at install: a shop's customers and order history brought in once."""
