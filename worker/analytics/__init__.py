"""Analytics in the worker: its part of the order webhooks, and its scheduled jobs."""
