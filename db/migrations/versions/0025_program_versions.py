"""A version per merchant of what the points calculation reads besides the customer: the
program settings, the bonus campaigns and the VIP tiers (``program_versions``).

An award read all three on every call (three of its six statements, issue 12). The ledger now
keeps them cached per merchant (``ledger.calculation_inputs``) and reads this one counter in
the statement that locks the customer: the cache is used while the counter stands still.
Triggers bump it on every insert, update and delete of the three tables, whoever writes them
(the API, imports, seeding, a migration), so no writer can forget to invalidate the cache.
A delete only bumps an existing row: every row of the three tables was inserted after this
migration created its merchant's counter (an insert creates it) or before, and the migration
creates one for every merchant. A merchant deleted cascades to its counter; the triggers of
the cascaded deletes then find none. SECURITY INVOKER: under the app role, row-level security
checks the counter's row like any other. The values come from one sequence, never from
``version + 1``: a bump rolled back must not come back as the version of different inputs
(a cache filled inside the transaction that rolled back holds that value).
"""

import sqlalchemy as sa
from alembic import op

from db import ddl
from db.session import APP_ROLE

revision = "0025"
down_revision = "0022"

TABLES = ("program_settings", "bonus_campaigns", "vip_tiers")

BUMP_PROGRAM_VERSION = """
CREATE OR REPLACE FUNCTION loyalnest_bump_program_version() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE program_versions SET version = nextval('program_version_seq')
        WHERE merchant_id = OLD.merchant_id;
    ELSE
        INSERT INTO program_versions (merchant_id, version)
        VALUES (NEW.merchant_id, nextval('program_version_seq'))
        ON CONFLICT (merchant_id) DO UPDATE SET version = excluded.version;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    ddl.create_tenant_table(
        "program_versions",
        ddl.merchant_id_column(),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("merchant_id"),
        ddl.merchant_foreign_key(),
        grant="SELECT, INSERT, UPDATE",
    )
    op.execute("CREATE SEQUENCE program_version_seq")
    op.execute(f"GRANT USAGE ON SEQUENCE program_version_seq TO {APP_ROLE}")
    op.execute(
        "INSERT INTO program_versions (merchant_id, version) "
        "SELECT id, nextval('program_version_seq') FROM merchants"
    )
    op.execute(BUMP_PROGRAM_VERSION)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER bump_program_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION loyalnest_bump_program_version()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bump_program_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS loyalnest_bump_program_version()")
    op.drop_table("program_versions")
    op.execute("DROP SEQUENCE IF EXISTS program_version_seq")
