"""Statistics brought up to date by a bulk load, inside the loading transaction.

A tenant table's partition holds one shop's rows among others'. When its statistics say it is
(nearly) empty — analyzed while a rolled-back import's rows filled it with dead ones, or before
the shop's first import — Postgres estimates every lookup in it at one row, and with one row
every index beginning with ``merchant_id`` looks as cheap as the primary key: the foreign-key
check of each new ledger row (a lookup by ``(merchant_id, id)``) then walked all the shop's
customers through ``(merchant_id, points_balance, id)``, and a 50,000-row import's ledger
insert ran 50,000 x 50,000 comparisons (minutes; seen in CI, reproduced with perf and gdb).

Autovacuum cannot help: it does not see rows a transaction has not committed. ANALYZE inside
the transaction does (it counts its own transaction's new rows), but only a table's owner may
run it, so ``loyalnest_analyze_partition`` runs it as the owner, for one partition of one of
our tables, skipping it when another ANALYZE holds it (never waiting on one).
"""

from alembic import op

from db.session import APP_ROLE

revision = "0027"
down_revision = "0026"

assert APP_ROLE == "loyalnest_app"

ANALYZE_PARTITION = """
CREATE OR REPLACE FUNCTION loyalnest_analyze_partition(p_table regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    -- Only a table of this schema owned by the function's owner (our tables), never another.
    IF NOT EXISTS (
        SELECT FROM pg_class AS c
        WHERE c.oid = p_table AND c.relkind = 'r'
          AND c.relnamespace = 'public'::regnamespace
          AND c.relowner = (SELECT p.proowner FROM pg_proc AS p
                            WHERE p.oid = 'loyalnest_analyze_partition(regclass)'::regprocedure)
    ) THEN
        RAISE EXCEPTION 'not a LoyalNest table: %', p_table;
    END IF;
    EXECUTE format('ANALYZE (SKIP_LOCKED) %s', p_table);
END
$$
"""


def upgrade() -> None:
    op.execute(ANALYZE_PARTITION)
    op.execute("REVOKE ALL ON FUNCTION loyalnest_analyze_partition(regclass) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION loyalnest_analyze_partition(regclass) TO loyalnest_app")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS loyalnest_analyze_partition(regclass)")
