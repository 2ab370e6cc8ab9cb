"""Reading the referral program."""

from __future__ import annotations

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.permissions import Capability, require
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.program.service import alerts_configured
from subgraphs.referrals.program.service import referral_program as program_of
from subgraphs.referrals.program.types import ReferralProgram


@strawberry.field(description="The referral program's settings (the defaults until saved).")
async def referral_program(info: ReferralsInfo) -> ReferralProgram:
    require(info.context.viewer, Capability.READ_PROGRAM)
    merchant_id = info.context.viewer.merchant_id
    async with info.context.unit_of_work() as session:
        config, version = await program_of(session, merchant_id)
        alerts = await alerts_configured(session, merchant_id)
    return ReferralProgram.of(config, version, alerts_configured=alerts)


ReferralProgramQuery = create_type("ReferralProgramQuery", [referral_program])
