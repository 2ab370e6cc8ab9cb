"""Customer notifications in the worker: the event flows and the Klaviyo profile sync, run
per merchant (they read the points program, referrals and GDPR requests together)."""
