"""VIP tiers: their rules, editing them, reassigning customers, previews."""
