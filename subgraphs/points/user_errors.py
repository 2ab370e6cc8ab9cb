"""The userError shape of every points mutation."""

from __future__ import annotations

import strawberry

from subgraphs.kit.graphql.mutations import user_error_of
from subgraphs.points import errors

PointsErrorCode = strawberry.enum(
    errors.PointsErrorCode, name="PointsErrorCode", description="Why a points operation failed."
)


@strawberry.type(description="An expected failure of a points mutation.")
class PointsUserError:
    field: list[str] | None = strawberry.field(description="Path to the input field at fault.")
    message: str = strawberry.field(description="What went wrong, for people.")
    code: PointsErrorCode = strawberry.field(description="What went wrong, for programs.")  # type: ignore[valid-type]

    @classmethod
    def from_error(cls, error: errors.PointsError) -> PointsUserError:
        user_error: PointsUserError = user_error_of(error, cls)
        return user_error
