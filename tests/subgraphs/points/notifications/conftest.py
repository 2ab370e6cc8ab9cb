"""The expiry reminder tests' fixtures (a clock at noon, a per-test provider key, respx and an
HTTP client), shared by the notification tests."""

from tests.subgraphs.points.test_expiry_reminders import api_key, http, mock_http, t0

__all__ = ["api_key", "http", "mock_http", "t0"]
