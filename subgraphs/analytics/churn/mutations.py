"""Training the churn model now (it also trains nightly)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.churn import service
from subgraphs.analytics.churn.types import (
    ChurnModel,
    ChurnModelTrainInput,
    ChurnModelTrainPayload,
)
from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.user_errors import analytics_mutation


@strawberry.mutation(
    description="Train the shop's churn model on its history now and score every customer "
    "with it (after an import or the Shopify backfill, rather than waiting for the night)."
)
async def churn_model_train(
    info: AnalyticsInfo,
    input: Annotated[
        ChurnModelTrainInput, strawberry.argument(description="Whether to keep the result.")
    ],
) -> ChurnModelTrainPayload:
    return await analytics_mutation(
        info,
        ChurnModelTrainPayload,
        lambda scope: service.train_and_score(
            scope.session, scope.merchant_id, now=scope.now, dry_run=input.dry_run
        ),
        lambda result: ChurnModelTrainPayload(
            churn_model=ChurnModel.of(result.model), customers_scored=result.scored
        ),
    )


ChurnMutation = create_type("ChurnMutation", [churn_model_train])
