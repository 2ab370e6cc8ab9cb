"""Daily ROI snapshots: the nightly record of each day's return and liability."""
