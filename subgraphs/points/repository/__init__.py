"""Every SQL statement of the points domain, one module per aggregate. Each repository is
scoped to one merchant, which is also in every WHERE clause so Postgres prunes to that
merchant's hash partition."""
