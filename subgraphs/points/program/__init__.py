"""The merchant's program: settings, the pure points calculation, the shop's Shopify API budget."""
