"""Editing the program's settings."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.points.loaders import PointsInfo
from subgraphs.points.program.service import ProgramConfig, update_program_config
from subgraphs.points.program.types import (
    ProgramSettings,
    ProgramSettingsUpdateInput,
    ProgramSettingsUpdatePayload,
)
from subgraphs.points.user_errors import points_mutation


@strawberry.mutation(
    description="Change the program; omitted fields keep their value. Validated as a whole."
)
async def program_settings_update(
    info: PointsInfo,
    input: Annotated[
        ProgramSettingsUpdateInput,
        strawberry.argument(
            description="The changes to make, and optionally the version they are based on."
        ),
    ],
) -> ProgramSettingsUpdatePayload:
    async def respond(saved: tuple[ProgramConfig, int]) -> ProgramSettingsUpdatePayload:
        # Cached reads derived from the rules (e.g. metrics) must not outlive them.
        await info.context.resources.cache.invalidate_tenant(info.context.viewer.merchant_id)
        return ProgramSettingsUpdatePayload(program_settings=ProgramSettings.from_config(*saved))

    return await points_mutation(
        info,
        ProgramSettingsUpdatePayload,
        lambda scope: update_program_config(
            scope.write, input.to_changes(), expected_version=input.expected_version
        ),
        respond,
    )


ProgramMutation = create_type("ProgramMutation", [program_settings_update])
