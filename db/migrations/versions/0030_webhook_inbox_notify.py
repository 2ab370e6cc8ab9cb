"""The inbox tells the worker itself that a merchant has new deliveries (issue 12).

Until now the shim stored a delivery and then enqueued one arq job for it in Redis, and the
worker paid arq's bookkeeping for every delivery (its Redis commands, its job start), even
when a batch had already processed the row. Now an insert of a pending row notifies
``db.channels.WEBHOOK_INBOX`` with the merchant's id; Postgres delivers it when the row's
transaction commits (never for a rolled-back one), once per merchant per transaction however
many rows it stored. The worker listens and drains that merchant's due deliveries in batches.

A trigger rather than a line in the store functions: every writer of the inbox (the shim's
two functions, the repository's ``insert_delivery``, a replay) wakes the worker without
having to remember to. ``NEW.status = 'pending'``: only work to do wakes it.
"""

from alembic import op

from db.channels import WEBHOOK_INBOX

revision = "0030"
down_revision = "0029"

NOTIFY_WEBHOOK_INBOX = f"""
CREATE OR REPLACE FUNCTION loyalnest_notify_webhook_inbox() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM pg_notify('{WEBHOOK_INBOX}', NEW.merchant_id);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(NOTIFY_WEBHOOK_INBOX)
    # On the partitioned table: Postgres clones it to every partition, today's and future.
    op.execute(
        "CREATE TRIGGER notify_webhook_inbox AFTER INSERT ON api_logs FOR EACH ROW"
        " WHEN (NEW.status = 'pending') EXECUTE FUNCTION loyalnest_notify_webhook_inbox()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS notify_webhook_inbox ON api_logs")
    op.execute("DROP FUNCTION IF EXISTS loyalnest_notify_webhook_inbox()")
