"""The staff view: LoyalNest staff comparing shops' analytics."""
