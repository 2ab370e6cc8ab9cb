"""The shop's average order value as the last full RFM pass computed it (``rfm_shop_averages``):
one customer rescored after an order is scored against it, as every other customer was,
instead of counting every order of the shop again for each order (issue 12: 70 of the 78 ms
of one customer's rescore on the seed's 250,000-order shop)."""

import sqlalchemy as sa
from alembic import op

from db import ddl

revision = "0028"
down_revision = "0027"


def upgrade() -> None:
    ddl.create_tenant_table(
        "rfm_shop_averages",
        ddl.merchant_id_column(),
        # The shop's non-cancelled orders and their net total (total less refunds): its AOV is
        # net / orders.
        sa.Column("orders", sa.BigInteger, nullable=False),
        sa.Column("net", sa.Numeric),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id"),
        ddl.merchant_foreign_key(),
        grant="SELECT, INSERT, UPDATE",
    )


def downgrade() -> None:
    op.drop_table("rfm_shop_averages")
