"""The points ledger: its one write path, earning, adjustments, and the ledger as clients see it."""
