"""Creates that are safe to retry: ``rewards``, ``bonus_campaigns`` and ``vip_tiers`` take the
client's ``idempotency_key`` and a fingerprint of the request it came with
(``idempotency_fingerprint``, a SHA-256 of the validated input). A unique
``(merchant_id, idempotency_key)`` on each table (led by ``merchant_id``, the hash-partition
key, as a unique index on a partitioned table must be) makes a retried create return the row
the first attempt made, however many retries race; the fingerprint tells a retry from a
different request under the same key. Rows created before this revision have neither (a
unique key allows any number of NULLs).

Campaign names were unique per merchant only in application code, so two concurrent creates
could both pass the check: ``uq_bonus_campaigns_merchant_id_name`` makes Postgres decide.
Duplicates that race left behind are renamed first (the oldest keeps the name, the others get
`` (<id>)`` appended; ledger traces keep the name they recorded).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

TABLES = ("rewards", "bonus_campaigns", "vip_tiers")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("idempotency_key", sa.Text))
        op.add_column(table, sa.Column("idempotency_fingerprint", sa.Text))
        op.create_check_constraint(
            "idempotency_fingerprint_with_key",
            table,
            "(idempotency_key IS NULL) = (idempotency_fingerprint IS NULL)",
        )
        op.create_unique_constraint(
            f"uq_{table}_merchant_id_idempotency_key", table, ["merchant_id", "idempotency_key"]
        )
    op.execute(
        """
        UPDATE bonus_campaigns AS campaign
        SET name = left(campaign.name, 60) || ' (' || campaign.id || ')'
        FROM (
            SELECT merchant_id, id,
                   row_number() OVER (
                       PARTITION BY merchant_id, name ORDER BY created_at, id
                   ) AS position
            FROM bonus_campaigns
        ) AS named
        WHERE named.merchant_id = campaign.merchant_id
          AND named.id = campaign.id
          AND named.position > 1
        """
    )
    op.create_unique_constraint(
        "uq_bonus_campaigns_merchant_id_name", "bonus_campaigns", ["merchant_id", "name"]
    )


def downgrade() -> None:
    op.drop_constraint("uq_bonus_campaigns_merchant_id_name", "bonus_campaigns", type_="unique")
    for table in reversed(TABLES):
        op.drop_constraint(f"uq_{table}_merchant_id_idempotency_key", table, type_="unique")
        # op.f: the name is final (a check constraint's name would take the convention's
        # ck_<table>_ prefix a second time, and name no constraint).
        op.drop_constraint(
            op.f(f"ck_{table}_idempotency_fingerprint_with_key"), table, type_="check"
        )
        op.drop_column(table, "idempotency_fingerprint")
        op.drop_column(table, "idempotency_key")
