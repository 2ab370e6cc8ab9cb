"""Reading the churn model."""

from __future__ import annotations

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.churn import service
from subgraphs.analytics.churn.types import ChurnModel
from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.kit.permissions import Capability, require


@strawberry.field(description="The shop's churn model, its holdout AUC and sample size.")
async def churn_model(info: AnalyticsInfo) -> ChurnModel:
    merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id
    async with info.context.unit_of_work() as session:
        return ChurnModel.of(await service.churn_model(session, merchant_id))


ChurnQuery = create_type("ChurnQuery", [churn_model])
