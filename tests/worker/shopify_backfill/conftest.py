"""The auth routes and the Shopify mock of the OAuth tests, for the install that queues the
backfill."""

from tests.gateway.auth.conftest import auth_http, shopify

__all__ = ["auth_http", "shopify"]
