"""The `loyalnest` command and the dev stack it runs: embedded Postgres and Redis, process
supervision, demo seed data, schema composition."""
