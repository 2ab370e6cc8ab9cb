"""Is the program paying: revenue it influenced, referrals, VIPs, and the points liability."""
