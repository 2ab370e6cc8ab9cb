"""The GDPR worker tests' fixtures (a per-test provider key, respx and an HTTP client)."""

from tests.subgraphs.points.test_expiry_reminders import api_key, http, mock_http

__all__ = ["api_key", "http", "mock_http"]
