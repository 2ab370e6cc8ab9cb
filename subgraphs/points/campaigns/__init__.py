"""Bonus campaigns: double points, spend goals, cheaper rewards."""
