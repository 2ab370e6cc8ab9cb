"""The fields that mean the same in every domain's types, worded once: an object's ``version``,
an update's ``expectedVersion`` (optimistic concurrency) and a create's ``idempotencyKey``
(safe retries). Each takes the entity's name for its description."""

from __future__ import annotations

from typing import Any

import strawberry


def version_field(entity: str) -> Any:
    """An object's ``version``: what an update names as ``expectedVersion`` (optimistic
    concurrency, so an editor cannot overwrite a change it never saw)."""
    return strawberry.field(
        description=f"Bumped by every change to the {entity}: send it as `expectedVersion` with "
        "an update to apply the update only to what you read."
    )


def expected_version_field(entity: str) -> Any:
    """An update input's ``expectedVersion`` (see ``version_field``)."""
    return strawberry.field(
        default=None,
        description=f"The {entity}'s `version` this change is based on: if the {entity} "
        "changed since, nothing is changed and the answer is a VERSION_CONFLICT userError. "
        "Omit it to apply the change whatever the version (the last write wins).",
    )


def create_key_field(entity: str, max_length: int) -> Any:
    """A create input's ``idempotencyKey``: the service stores it with a fingerprint of the
    input, so a retry returns the first object and another input under the key is refused."""
    return strawberry.field(
        description=f"Your unique key for this {entity}, 1 to {max_length} characters: retrying "
        f"with it returns the same {entity} and never creates a second one; another input "
        "under the same key is IDEMPOTENCY_KEY_REUSED."
    )
