"""Order facts: one row per Shopify order, the record analytics computes from."""
