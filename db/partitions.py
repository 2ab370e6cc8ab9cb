"""DDL helpers for partitioning and row-level security, used by migrations.

Tenant tables are hash-partitioned by merchant_id (Citus distributes on the same key when one
node is not enough); append-only logs are range-partitioned by month and maintained by the
``loyalnest_maintain_log_partitions`` function defined here.
"""

from __future__ import annotations

HASH_PARTITIONS = 16
LOG_TABLES = ("audit_logs", "api_logs")
TENANT_SETTING = "current_setting('app.merchant_id', true)"


def hash_partitions(table: str, modulus: int = HASH_PARTITIONS) -> list[str]:
    return [
        f"CREATE TABLE {table}_p{remainder:02d} PARTITION OF {table} "
        f"FOR VALUES WITH (MODULUS {modulus}, REMAINDER {remainder})"
        for remainder in range(modulus)
    ]


def tenant_isolation(table: str, tenant_column: str = "merchant_id") -> list[str]:
    """RLS on the parent only; the app role is granted the parent only, so it cannot reach a
    partition directly and around the policy."""
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({tenant_column} = {TENANT_SETTING}) "
        f"WITH CHECK ({tenant_column} = {TENANT_SETTING})",
    ]


MAINTAIN_LOG_PARTITIONS_FUNCTION = """
CREATE OR REPLACE FUNCTION loyalnest_maintain_log_partitions(
    months_ahead integer DEFAULT 3,
    retention interval DEFAULT interval '90 days',
    as_of timestamptz DEFAULT now()
) RETURNS TABLE(action text, partition_name text)
LANGUAGE plpgsql AS $fn$
DECLARE
    parent text;
    month_start timestamp;
    part record;
    part_month timestamp;
    utc_now timestamp := as_of AT TIME ZONE 'UTC';
BEGIN
    FOREACH parent IN ARRAY ARRAY['audit_logs', 'api_logs'] LOOP
        -- Upcoming months first, so inserts never find a month without a partition.
        FOR i IN 0..months_ahead LOOP
            month_start := date_trunc('month', utc_now) + make_interval(months => i);
            partition_name := format('%s_y%sm%s', parent,
                to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
            IF to_regclass(partition_name) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    partition_name, parent,
                    to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00',
                    to_char(month_start + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
                action := 'created';
                RETURN NEXT;
            END IF;
        END LOOP;
        -- A month is dropped once all of it is older than the retention window.
        FOR part IN
            SELECT c.relname
            FROM pg_inherits inh
            JOIN pg_class c ON c.oid = inh.inhrelid
            JOIN pg_class p ON p.oid = inh.inhparent
            WHERE p.relname = parent AND c.relname ~ '_y[0-9]{4}m[0-9]{2}$'
            ORDER BY c.relname
        LOOP
            part_month := make_date(
                substring(part.relname FROM '_y([0-9]{4})m[0-9]{2}$')::int,
                substring(part.relname FROM '_y[0-9]{4}m([0-9]{2})$')::int,
                1)::timestamp;
            IF part_month + interval '1 month' <= utc_now - retention THEN
                EXECUTE format('DROP TABLE %I', part.relname);
                action := 'dropped';
                partition_name := part.relname;
                RETURN NEXT;
            END IF;
        END LOOP;
    END LOOP;
END
$fn$
"""
