"""The pieces of bench/api.py: the floor app, the load generator (wrk) and the stack."""
