"""The webhook shim's write as one function call: enter the tenant, store the delivery once.

A delivery at the shim was four round trips (BEGIN, the tenant's ``set_config``, the insert,
COMMIT) and the SQLAlchemy session around them was a third of the edge app's CPU (issue 12,
py-spy). ``loyalnest_store_webhook_delivery`` does the same in one statement, run on its own
(autocommit): it switches to the ``loyalnest_app`` role and the merchant for its transaction
only (``set_config(..., true)``, like ``db.session.tenant_unit_of_work``), so row-level
security checks the rows as before; the receipt decides whether the webhook id is new, and
only then is the inbox row written (the statement of
``WebhookDeliveriesRepository.insert_delivery``). Returns the delivery id, or NULL for a
webhook id already received. SECURITY INVOKER: it can do nothing its caller could not.
"""

from alembic import op

from db.session import APP_ROLE

revision = "0013"
down_revision = "0012"

# The role is written out (not formatted in): the statement is a constant.
assert APP_ROLE == "loyalnest_app"

STORE_WEBHOOK_DELIVERY = """
CREATE OR REPLACE FUNCTION loyalnest_store_webhook_delivery(
    p_merchant_id text, p_id text, p_topic text, p_webhook_id text, p_event_id text,
    p_triggered_at timestamptz, p_api_version text, p_payload_encrypted text,
    p_payload_bytes integer, p_shopify_customer_id text
) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    stored text;
BEGIN
    PERFORM set_config('role', 'loyalnest_app', true),
            set_config('app.merchant_id', p_merchant_id, true);
    WITH receipt AS (
        INSERT INTO webhook_receipts (merchant_id, webhook_id, delivery_id, delivery_created_at)
        VALUES (p_merchant_id, p_webhook_id, p_id, now())
        ON CONFLICT (merchant_id, webhook_id) DO NOTHING
        RETURNING delivery_id
    )
    INSERT INTO api_logs (
        merchant_id, id, created_at, topic, status, webhook_id, event_id, triggered_at,
        api_version, payload_encrypted, payload_bytes, shopify_customer_id
    )
    SELECT p_merchant_id, delivery_id, now(), p_topic, 'pending', p_webhook_id, p_event_id,
           p_triggered_at, p_api_version, p_payload_encrypted, p_payload_bytes,
           p_shopify_customer_id
    FROM receipt
    RETURNING id INTO stored;
    RETURN stored;
END
$$
"""


def upgrade() -> None:
    op.execute(STORE_WEBHOOK_DELIVERY)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS loyalnest_store_webhook_delivery("
        "text, text, text, text, text, timestamptz, text, text, integer, text)"
    )
