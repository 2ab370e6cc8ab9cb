"""Identifiers: text, time-ordered (UUIDv7), so btree inserts stay append-mostly."""

import uuid_utils


def new_id() -> str:
    return str(uuid_utils.uuid7())
