"""The analytics subgraph's userErrors: its error codes as GraphQL sees them, its userError type
and its mutation runner (the one place analytics says how its expected failures are shown)."""

from __future__ import annotations

import strawberry

from subgraphs.analytics import errors
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.user_errors import MutationRunner, UserError

AnalyticsErrorCode = domain_enum(
    errors.AnalyticsErrorCode,
    name="AnalyticsErrorCode",
    description="Why an analytics mutation was refused; nothing was changed.",
    values={
        "INVALID_THRESHOLDS": "The RFM thresholds do not validate (each list takes four "
        "values rising strictly); the field and message name the first problem.",
        "UNKNOWN_PRESET": "No RFM preset has this name; `rfmBenchmarks` lists them.",
        "VERSION_CONFLICT": "The thresholds changed since the `expectedVersion` sent. Reload "
        "them, reapply the change and send it with the new version.",
        "INVALID_SEGMENT": "The segment's rules do not hold: scores are 1 to 5, a minimum at "
        "most its maximum, a priority from 1 to 99 (built-in segments come from 100).",
        "SEGMENT_NAME_TAKEN": "The shop has another segment of this name, or it is a built-in one.",
        "SUGGESTION_NOT_FOUND": "The shop has no campaign suggestion with this ID.",
        "SUGGESTION_DECIDED": "The suggestion was decided the other way already (dismissed, "
        "or accepted): a decision is final.",
    },
)


@strawberry.type(description="An expected failure of an analytics mutation.")
class AnalyticsUserError(UserError[errors.AnalyticsErrorCode]):
    pass


analytics_mutation = MutationRunner(AnalyticsUserError)
