"""Two write paths made cheaper (issue 12): the program version awards cache their inputs at,
and the webhook shim's deliveries stored many at a time.

A version per merchant of what the points calculation reads besides the customer: the
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

``loyalnest_store_webhook_deliveries`` is migration 0013's ``loyalnest_store_webhook_delivery``
for many deliveries of one merchant in one call: the shim stores the deliveries that arrive
together in one transaction, so they share one commit (one WAL flush) instead of one each.
Same rules: it enters the tenant for its transaction (row-level security applies), the
receipt decides whether a webhook id is new (twice in one call: stored once), and only then is
the inbox row written. Returns the ids stored; a delivery whose id is missing was a duplicate.
"""

import sqlalchemy as sa
from alembic import op

from db import ddl
from db.session import APP_ROLE

revision = "0025"
down_revision = "0024"

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


STORE_WEBHOOK_DELIVERIES = """
CREATE OR REPLACE FUNCTION loyalnest_store_webhook_deliveries(
    p_merchant_id text, p_ids text[], p_topics text[], p_webhook_ids text[],
    p_event_ids text[], p_triggered_ats timestamptz[], p_api_versions text[],
    p_payloads_encrypted text[], p_payload_bytes integer[], p_shopify_customer_ids text[]
) RETURNS SETOF text
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM set_config('role', 'loyalnest_app', true),
            set_config('app.merchant_id', p_merchant_id, true);
    RETURN QUERY
    WITH delivery AS (
        SELECT * FROM unnest(
            p_ids, p_topics, p_webhook_ids, p_event_ids, p_triggered_ats, p_api_versions,
            p_payloads_encrypted, p_payload_bytes, p_shopify_customer_ids
        ) AS d(id, topic, webhook_id, event_id, triggered_at, api_version, payload_encrypted,
               payload_bytes, shopify_customer_id)
    ), receipt AS (
        INSERT INTO webhook_receipts (merchant_id, webhook_id, delivery_id, delivery_created_at)
        SELECT p_merchant_id, webhook_id, id, now() FROM delivery
        ON CONFLICT (merchant_id, webhook_id) DO NOTHING
        RETURNING delivery_id
    ), stored AS (
        INSERT INTO api_logs (
            merchant_id, id, created_at, topic, status, webhook_id, event_id, triggered_at,
            api_version, payload_encrypted, payload_bytes, shopify_customer_id
        )
        SELECT p_merchant_id, d.id, now(), d.topic, 'pending', d.webhook_id, d.event_id,
               d.triggered_at, d.api_version, d.payload_encrypted, d.payload_bytes,
               d.shopify_customer_id
        FROM delivery AS d JOIN receipt ON receipt.delivery_id = d.id
        RETURNING api_logs.id
    )
    SELECT stored.id FROM stored;
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
    op.execute(STORE_WEBHOOK_DELIVERIES)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER bump_program_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION loyalnest_bump_program_version()"
        )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS loyalnest_store_webhook_deliveries(text, text[], text[],"
        " text[], text[], timestamptz[], text[], text[], integer[], text[])"
    )
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bump_program_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS loyalnest_bump_program_version()")
    op.drop_table("program_versions")
    op.execute("DROP SEQUENCE IF EXISTS program_version_seq")
