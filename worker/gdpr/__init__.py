"""GDPR housekeeping the worker runs on a schedule."""
