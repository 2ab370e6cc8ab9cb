"""Editing the program's settings."""

from __future__ import annotations

import strawberry

from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.service.errors import PointsError
from subgraphs.points.service.program import update_program_config
from subgraphs.points.types.errors import PointsUserError
from subgraphs.points.types.program import (
    ProgramSettings,
    ProgramSettingsUpdateInput,
    ProgramSettingsUpdatePayload,
)


@strawberry.type
class ProgramMutation:
    @strawberry.mutation(
        description="Change the program; omitted fields keep their value. Validated as a whole."
    )
    async def program_settings_update(
        self, info: PointsInfo, input: ProgramSettingsUpdateInput
    ) -> ProgramSettingsUpdatePayload:
        context = info.context
        require(context.viewer, Capability.MANAGE_PROGRAM)
        try:
            async with context.unit_of_work() as session:
                config, version = await update_program_config(
                    session,
                    context.viewer.merchant_id,
                    input.to_changes(),
                    expected_version=input.expected_version,
                    actor_id=context.viewer.user_id,
                )
        except PointsError as error:
            return ProgramSettingsUpdatePayload(
                program_settings=None, user_errors=[PointsUserError.from_error(error)]
            )
        # Cached reads derived from the rules (e.g. metrics) must not outlive them.
        await context.resources.cache.invalidate_tenant(context.viewer.merchant_id)
        return ProgramSettingsUpdatePayload(
            program_settings=ProgramSettings.from_config(config, version), user_errors=[]
        )
