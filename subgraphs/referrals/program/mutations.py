"""Editing the referral program."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.mutations import MutationScope
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.program.service import (
    alerts_configured,
    set_alert_webhook,
    update_referral_program,
)
from subgraphs.referrals.program.types import (
    ReferralProgram,
    ReferralProgramUpdateInput,
    ReferralProgramUpdatePayload,
)
from subgraphs.referrals.user_errors import referral_mutation


@strawberry.mutation(
    description="Change the referral program; omitted fields keep their value. Validated as a "
    "whole; with expectedVersion, refused (VERSION_CONFLICT) if it changed since."
)
async def referral_program_update(
    info: ReferralsInfo,
    input: Annotated[
        ReferralProgramUpdateInput,
        strawberry.argument(description="The changes, and optionally the version they are on."),
    ],
) -> ReferralProgramUpdatePayload:
    async def perform(scope: MutationScope) -> ReferralProgram:
        if input.alert_slack_webhook_url is not strawberry.UNSET:
            await set_alert_webhook(
                scope.write, input.alert_slack_webhook_url, info.context.resources.cipher
            )
        config, version = await update_referral_program(
            scope.write, input.to_changes(), expected_version=input.expected_version
        )
        alerts = await alerts_configured(scope.session, scope.merchant_id)
        return ReferralProgram.of(config, version, alerts_configured=alerts)

    return await referral_mutation(
        info,
        ReferralProgramUpdatePayload,
        perform,
        lambda program: ReferralProgramUpdatePayload(referral_program=program),
    )


ReferralProgramMutation = create_type("ReferralProgramMutation", [referral_program_update])
