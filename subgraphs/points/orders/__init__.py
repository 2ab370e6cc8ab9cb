"""Shopify's order and customer events, reconciliation, and order reversals."""
