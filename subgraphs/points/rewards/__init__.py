"""The rewards catalog, redemptions, and the Shopify discount codes they become."""
