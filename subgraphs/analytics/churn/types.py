"""GraphQL types of churn: the merchant's model, and a customer's score and stage."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import strawberry

from db.models import ChurnModel as ChurnModelRow
from db.models import ChurnModelStatus as StoredStatus
from db.models import LifecycleStage as StoredStage
from subgraphs.analytics.user_errors import AnalyticsUserError
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.user_errors import user_errors_field

LifecycleStage = domain_enum(
    StoredStage,
    name="LifecycleStage",
    description="Where a customer stands with the shop, from their orders and churn score.",
    values={
        "NEW_LEAD": "Signed up, never ordered.",
        "ONE_TIME_BUYER": "One order, not churned.",
        "REPEAT_BUYER": "Two orders or more, not churned.",
        "VIP": "Holds a VIP tier, not churned.",
        "CHURNED": "Likely gone: a churn score from 0.7 (or, without a model, no order in "
        "180 days).",
    },
)


class ChurnModelState(enum.Enum):
    READY = "ready"
    INSUFFICIENT_HISTORY = "insufficient_history"
    NOT_TRAINED = "not_trained"


ChurnModelStatus = domain_enum(
    ChurnModelState,
    name="ChurnModelStatus",
    description="Whether the shop has a churn model.",
    values={
        "READY": "Trained; customers are scored with it.",
        "INSUFFICIENT_HISTORY": "Too little history to train one; `reason` says what is missing.",
        "NOT_TRAINED": "Not trained yet (the nightly job, or `churnModelTrain`, trains it).",
    },
)


@strawberry.type(
    description="The shop's churn model: a logistic regression trained on its own customers' "
    "order histories as of `cutoffAt`, labelled by whether they ordered in the "
    "`horizonDays` after; measured on a holdout quarter it never saw."
)
class ChurnModel:
    status: ChurnModelStatus = strawberry.field(  # type: ignore[valid-type]
        description="Whether there is a model."
    )
    reason: str | None = strawberry.field(
        description="Why there is no model, when there is too little history."
    )
    trained_at: datetime | None = strawberry.field(description="When it was last trained.")
    cutoff_at: datetime | None = strawberry.field(
        description="The moment its training features describe."
    )
    horizon_days: int | None = strawberry.field(
        description="The days after the cutoff in which an order means 'stayed'."
    )
    sample_size: int = strawberry.field(description="Customers it was trained and measured on.")
    churned_count: int = strawberry.field(description="Of them, those who did not order.")
    auc: Decimal | None = strawberry.field(
        description="Area under the ROC curve on the holdout (0.5 is a coin, 1 is perfect)."
    )

    @classmethod
    def of(cls, row: ChurnModelRow | None) -> ChurnModel:
        if row is None:
            return cls(
                status=ChurnModelState.NOT_TRAINED,
                reason=None,
                trained_at=None,
                cutoff_at=None,
                horizon_days=None,
                sample_size=0,
                churned_count=0,
                auc=None,
            )
        return cls(
            status=ChurnModelState(StoredStatus(row.status).value),
            reason=row.reason,
            trained_at=row.trained_at,
            cutoff_at=row.cutoff_at,
            horizon_days=row.horizon_days,
            sample_size=row.sample_size,
            churned_count=row.churned,
            auc=row.auc,
        )


@strawberry.type(description="How likely a customer is to leave, and their lifecycle stage.")
class CustomerChurn:
    score: Decimal | None = strawberry.field(
        description="The probability (0 to 1) of no order in the next 90 days; null without a "
        "model or before their first order."
    )
    lifecycle_stage: LifecycleStage | None = strawberry.field(  # type: ignore[valid-type]
        description="Their stage; null until the first nightly scoring."
    )


@strawberry.input(description="Training the churn model now.")
class ChurnModelTrainInput:
    dry_run: bool = strawberry.field(
        default=False,
        description="Train and report the model (its AUC, its sample) without keeping it or "
        "scoring anyone.",
    )


@strawberry.type(description="Result of churnModelTrain.")
class ChurnModelTrainPayload:
    churn_model: ChurnModel | None = strawberry.field(
        default=None, description="The model as trained (or why there is none)."
    )
    customers_scored: int = strawberry.field(
        default=0, description="Customers with orders scored with it (0 for a dry run)."
    )
    user_errors: list[AnalyticsUserError] = user_errors_field()
