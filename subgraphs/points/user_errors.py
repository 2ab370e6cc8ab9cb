"""The points subgraph's userErrors: its error codes as GraphQL sees them, its userError type,
the runner every points mutation goes through, and what a query answers when its arguments
are at fault."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import strawberry

from subgraphs.kit.errors import BadUserInputError
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.user_errors import MutationRunner, UserError
from subgraphs.points import errors

PointsErrorCode = domain_enum(
    errors.PointsErrorCode,
    name="PointsErrorCode",
    description="Why a points operation failed; nothing was changed.",
    values={
        "CUSTOMER_NOT_FOUND": "The merchant has no such customer (or it is another "
        "merchant's). Check the id; customers appear once Shopify sent them.",
        "INVALID_POINTS": "The points are 0 or out of the allowed range; the message gives "
        "the range. Send a non-zero amount within it.",
        "INVALID_REASON": "The reason is blank or too long. Send 1 to 200 characters.",
        "INVALID_IDEMPOTENCY_KEY": "The idempotency key is blank or too long. Send a short, "
        "unique key per business event.",
        "IDEMPOTENCY_KEY_REUSED": "This idempotency key was already used for a different "
        "request. Use a new key for a new event; resend the same request to get the original "
        "result.",
        "INVALID_EMAIL": "Not a valid email address. Correct it.",
        "INVALID_QUERY": "The filter or the cursor could not be read; the message says which "
        "term. Fix the query, or restart paging without `after`.",
        "EMAIL_TAKEN": "Another customer of this shop has this email. Use another one, or "
        "find that customer.",
        "INVALID_ORDER": "The order or one of its lines is malformed or unknown (ids, "
        "quantities, amounts, too many lines); the field says where. Correct the order.",
        "ORDER_REQUIRED": "A PURCHASE needs its order. Send `order`.",
        "ORDER_ALREADY_EARNED": "This order has already earned points (an order earns once, "
        "whichever path saw it first). Nothing to do.",
        "ORDER_NOT_EARNED": "This order has not earned points, so there is nothing to take "
        "back. Retry once it has earned, or ignore.",
        "UNSUPPORTED_CURRENCY": "The currency is not one of the program's currencies. Use the "
        "shop currency or add a rate for it to the program settings.",
        "INSUFFICIENT_POINTS": "The balance is too low: a debit never takes it below zero. "
        "Spend or take back fewer points.",
        "INVALID_SETTINGS": "The program settings do not validate; the field and message name "
        "the first problem. Correct it and send the change again.",
        "SETTINGS_VERSION_CONFLICT": "The settings changed since `expectedVersion`. Reload "
        "them, reapply the change and send it with the new version.",
        "VERSION_CONFLICT": "The object changed since the `expectedVersion` the update named "
        "(someone else saved first). Reload it, reapply the change and send it with the new "
        "version; nothing was changed.",
        "REWARD_NOT_FOUND": "The catalog has no such reward (or it was deleted). Check the id.",
        "REWARD_UNAVAILABLE": "The reward cannot be redeemed now: switched off, not started "
        "or ended. Offer another reward.",
        "REWARD_LIMIT_REACHED": "The customer has redeemed this reward as many times as it "
        "allows. Offer another reward.",
        "INVALID_REWARD": "The reward's terms do not validate for its kind; the field says "
        "which. Correct it.",
        "DISCOUNT_NOT_CREATED": "Shopify could not create the discount code, so the points "
        "were returned (the redemption is REFUNDED). Try again later with a new key.",
        "TIER_NOT_FOUND": "The program has no such VIP tier. Check the id.",
        "INVALID_TIER": "The tier's names, rules or benefits do not validate; the field says "
        "which. Correct it.",
        "TIER_RANK_TAKEN": "Another tier has this rank; ranks order the tiers. Pick a free "
        "rank or move the other tier first.",
        "CAMPAIGN_NOT_FOUND": "The program has no such campaign. Check the id.",
        "INVALID_CAMPAIGN": "The campaign's dates, terms or conditions do not validate for its "
        "kind; the field says which. Correct it.",
        "INVALID_PREVIEW": "The preview's draft tiers, customers or sample size do not "
        "validate; the field says which. Correct it.",
        "INVALID_NOTIFICATION_SETTINGS": "The notification settings do not validate (sender, "
        "channels, API key format, a channel the provider cannot send); the field says which. "
        "Correct it.",
        "API_KEY_REQUIRED": "A provider is selected but no API key is stored for it. Send "
        "`apiKey` with the provider.",
        "NOTIFICATIONS_OFF": "No notification provider is selected, so nothing can be sent. "
        "Choose Klaviyo or Postscript first.",
        "INVALID_TEMPLATE": "A template does not parse; the message gives the line. Correct "
        "the template syntax ({{ placeholder }}).",
        "MISSING_PLACEHOLDER": "A template leaves out a placeholder its message type requires; "
        "the message names it. Add it.",
        "UNKNOWN_PLACEHOLDER": "A template uses a placeholder its message type does not "
        "provide; the message lists those it does. Remove or rename it.",
        "INVALID_CONSENT": "The consent change does not validate (no change, a type twice, a "
        "text version too long); the field says which. Correct it.",
        "MISSING_LOCALE": "A template update must give every supported locale (en, es, fr, "
        "ar, he); the message names those missing. Send them all.",
        "IMPORT_FILE_TOO_LARGE": "The import file is over 10 MB. Split it into several imports.",
        "INVALID_IMPORT_FILE": "The import file cannot be read as CSV (not UTF-8, empty, no "
        "data rows, or not base64); the message says which. Export it again as UTF-8 CSV.",
        "INVALID_IMPORT_MAPPING": "The mapping does not validate: a custom import needs one, "
        "built-in sources take none, and every field must be known and mapped once. Correct it.",
        "MISSING_IMPORT_COLUMN": "The file's header row lacks a required column (email); the "
        "message names the header it looked for. Add or rename the column, or map it.",
        "IMPORT_HAS_ERRORS": "Rows of the file do not validate, so nothing was imported; the "
        "import's errorLog lists each by row and column. Fix them, or send skipInvalidRows.",
        "IMPORT_NOT_FOUND": "The shop has no such import. Check the id.",
        "IMPORT_NOT_REVERTIBLE": "The import cannot be reverted: it was a dry run, or it was "
        "committed more than 30 days ago. Adjust the balances one by one instead.",
        "IMPORT_UPLOAD_NOT_FOUND": "The shop has no such staged upload, or its file was never "
        "PUT to the upload URL, or it expired (a day after stagedUploadCreate). Upload again.",
    },
)


@strawberry.type(description="An expected failure of a points mutation.")
class PointsUserError(UserError[errors.PointsErrorCode]):
    pass


@contextmanager
def bad_user_input() -> Iterator[None]:
    """A ``PointsError`` raised by a query's arguments is the client's mistake: the field fails
    with BAD_USER_INPUT (queries have no userErrors)."""
    try:
        yield
    except errors.PointsError as error:
        raise BadUserInputError(error.message) from None


# Every points mutation goes through this (kit's ``run_mutation`` with ``PointsUserError``).
points_mutation = MutationRunner(PointsUserError)
