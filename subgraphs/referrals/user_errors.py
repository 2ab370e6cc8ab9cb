"""The referrals subgraph's mutation runner: kit's ``run_mutation`` with ``ReferralUserError``
(the one place the referrals domains say how their expected failures are shown)."""

from __future__ import annotations

from subgraphs.kit.graphql.user_errors import MutationRunner
from subgraphs.referrals.types import ReferralUserError

referral_mutation = MutationRunner(ReferralUserError)
