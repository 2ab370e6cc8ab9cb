"""The background worker (arq on Redis): it runs every job the domains declare, and applies
the Shopify webhook deliveries the edge app stored in the inbox."""
