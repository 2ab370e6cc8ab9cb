"""Churn: a per-merchant model and each customer's score and lifecycle stage.

- ``customers.churn_score`` (0 to 1, the model's probability that the customer orders nothing
  in the next 90 days) and ``customers.lifecycle_stage``: written by analytics only, like the
  RFM columns.
- ``churn_models``: one row per merchant, the model last trained on its own history — its
  parameters (a logistic regression: feature scaling, coefficients, intercept), its holdout
  AUC and sample size — or why there is none (too little history).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db.partitions import hash_partitions, tenant_isolation
from db.session import APP_ROLE

revision = "0017"
down_revision = "0014"

LIFECYCLE_STAGES = "('new_lead', 'one_time_buyer', 'repeat_buyer', 'vip', 'churned')"


def upgrade() -> None:
    op.add_column("customers", sa.Column("churn_score", sa.Numeric(4, 3)))
    op.add_column("customers", sa.Column("lifecycle_stage", sa.Text))
    op.create_check_constraint(
        "ck_customers_churn_score_range", "customers", "churn_score BETWEEN 0 AND 1"
    )
    op.create_check_constraint(
        "ck_customers_lifecycle_stage_known",
        "customers",
        f"lifecycle_stage IN {LIFECYCLE_STAGES}",
    )
    # "Customers most likely to leave" lists read it in order.
    op.create_index(
        "ix_customers_churn_score",
        "customers",
        ["merchant_id", "churn_score"],
        postgresql_where=sa.text("churn_score IS NOT NULL"),
    )
    op.create_table(
        "churn_models",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("horizon_days", sa.Integer, nullable=False),
        sa.Column("sample_size", sa.Integer, nullable=False),
        sa.Column("churned", sa.Integer, nullable=False),
        sa.Column("auc", sa.Numeric(5, 4)),
        sa.Column("parameters", JSONB),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", name="pk_churn_models"),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            ondelete="CASCADE",
            name="fk_churn_models_merchant_id_merchants",
        ),
        sa.CheckConstraint(
            "status IN ('ready', 'insufficient_history')", name="ck_churn_models_status_known"
        ),
        sa.CheckConstraint(
            "(status = 'ready') = (parameters IS NOT NULL AND auc IS NOT NULL)",
            name="ck_churn_models_ready_has_parameters",
        ),
        postgresql_partition_by="HASH (merchant_id)",
    )
    for statement in hash_partitions("churn_models") + tenant_isolation("churn_models"):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON churn_models TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("churn_models")
    op.drop_index("ix_customers_churn_score", table_name="customers")
    op.drop_constraint("ck_customers_lifecycle_stage_known", "customers")
    op.drop_constraint("ck_customers_churn_score_range", "customers")
    op.drop_column("customers", "lifecycle_stage")
    op.drop_column("customers", "churn_score")
