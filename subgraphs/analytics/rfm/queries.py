"""Reading RFM settings, presets and segment counts."""

from __future__ import annotations

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.rfm import service
from subgraphs.analytics.rfm.types import (
    RfmBenchmark,
    RfmSegmentCount,
    RfmThresholdSettings,
    RfmThresholdsSettings,
)
from subgraphs.kit.permissions import Capability, require


@strawberry.field(description="The shop's RFM thresholds (the defaults until saved).")
async def rfm_thresholds(info: AnalyticsInfo) -> RfmThresholdsSettings:
    merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id
    async with info.context.unit_of_work() as session:
        thresholds, version = await service.rfm_thresholds(session, merchant_id)
    return RfmThresholdsSettings(thresholds=RfmThresholdSettings.of(thresholds), version=version)


@strawberry.field(
    description="Presets of RFM thresholds by kind of shop (defaults, not industry data)."
)
async def rfm_benchmarks(info: AnalyticsInfo) -> list[RfmBenchmark]:
    require(info.context.viewer, Capability.READ_ANALYTICS)
    async with info.context.unit_of_work() as session:
        return [RfmBenchmark.of(benchmark) for benchmark in await service.rfm_benchmarks(session)]


@strawberry.field(
    description="Customers per RFM segment at the last full recompute (nightly), every "
    "segment of the shop in the order they are checked, empty ones at 0."
)
async def rfm_segment_counts(info: AnalyticsInfo) -> list[RfmSegmentCount]:
    merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id
    async with info.context.unit_of_work() as session:
        counts = await service.segment_counts(session, merchant_id)
    return [RfmSegmentCount.of(count) for count in counts]


RfmQuery = create_type("RfmQuery", [rfm_thresholds, rfm_benchmarks, rfm_segment_counts])
