"""Merchant referrals: one shop refers another to LoyalNest, and both are credited."""
