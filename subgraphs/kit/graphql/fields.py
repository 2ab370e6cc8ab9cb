"""What the domains' types share about their fields: the fields that mean the same in every
domain, worded once (an object's ``version``, an update's ``expectedVersion`` for optimistic
concurrency, a create's ``idempotencyKey`` for safe retries; each takes the entity's name for
its description), and ``from_attributes``, which fills a type from a row's same-named columns.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# Strawberry types are dataclasses.
ObjectT = TypeVar("ObjectT", bound="DataclassInstance")


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


def from_attributes(of_type: type[ObjectT], source: object, /, **computed: Any) -> ObjectT:
    """An ``of_type`` whose fields are ``computed`` where given, and otherwise the attributes of
    the same name of ``source`` (a row, a service's view): a type that shows its row mostly as
    it is spells out only what differs. A field ``source`` lacks is an ``AttributeError``."""
    # A Strawberry type is a dataclass: its constructor takes the fields that have no resolver
    # (the ``Private`` ones included).
    copied = {
        field.name: getattr(source, field.name)
        for field in dataclasses.fields(of_type)
        if field.init and field.name not in computed
    }
    return of_type(**copied, **computed)
