"""Customer data imports: a CSV from Smile.io, LoyaltyLion, Shopify or a custom mapping,
previewed, committed into customers and the ledger, and reverted."""
