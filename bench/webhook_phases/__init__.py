"""The phases of bench/webhooks.py, a module each, and what they share: the deliveries and
their senders, the inbox read from the side, and the running stack."""
