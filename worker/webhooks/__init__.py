"""Applying stored Shopify webhook deliveries: one transaction per delivery, exactly once."""
