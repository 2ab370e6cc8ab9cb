"""The expiry reminder tests' fixtures, shared by the consent tests."""

from tests.subgraphs.points.test_expiry_reminders import api_key, http, mock_http, t0

__all__ = ["api_key", "http", "mock_http", "t0"]
