"""The edge app over real HTTP, as the webhook tests serve it: deliveries reach the worker's
handlers through the inbox exactly as in production."""

from tests.gateway.webhooks.conftest import edge, edge_url

__all__ = ["edge", "edge_url"]
