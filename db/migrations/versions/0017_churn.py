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

from db import ddl

revision = "0017"
down_revision = "0016"

LIFECYCLE_STAGES = "('new_lead', 'one_time_buyer', 'repeat_buyer', 'vip', 'churned')"


def upgrade() -> None:
    op.add_column("customers", sa.Column("churn_score", sa.Numeric(4, 3)))
    op.add_column("customers", sa.Column("lifecycle_stage", sa.Text))
    op.create_check_constraint("churn_score_range", "customers", "churn_score BETWEEN 0 AND 1")
    op.create_check_constraint(
        "lifecycle_stage_known", "customers", f"lifecycle_stage IN {LIFECYCLE_STAGES}"
    )
    # "Customers most likely to leave" lists read it in order.
    op.create_index(
        "ix_customers_churn_score",
        "customers",
        ["merchant_id", "churn_score"],
        postgresql_where=sa.text("churn_score IS NOT NULL"),
    )
    ddl.create_tenant_table(
        "churn_models",
        ddl.merchant_id_column(),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("horizon_days", sa.Integer, nullable=False),
        sa.Column("sample_size", sa.Integer, nullable=False),
        sa.Column("churned", sa.Integer, nullable=False),
        sa.Column("auc", sa.Numeric(5, 4)),
        sa.Column("parameters", JSONB),
        ddl.now_column("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id"),
        ddl.merchant_foreign_key(),
        sa.CheckConstraint("status IN ('ready', 'insufficient_history')", name="status_known"),
        sa.CheckConstraint(
            "(status = 'ready') = (parameters IS NOT NULL AND auc IS NOT NULL)",
            name="ready_has_parameters",
        ),
        grant="SELECT, INSERT, UPDATE",
    )


def downgrade() -> None:
    op.drop_table("churn_models")
    op.drop_index("ix_customers_churn_score", table_name="customers")
    op.drop_constraint(op.f("ck_customers_lifecycle_stage_known"), "customers", type_="check")
    op.drop_constraint(op.f("ck_customers_churn_score_range"), "customers", type_="check")
    op.drop_column("customers", "lifecycle_stage")
    op.drop_column("customers", "churn_score")
