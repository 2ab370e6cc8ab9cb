"""Postgres notification channels (LISTEN/NOTIFY), named once: a migration's trigger sends on
them and a process listens, so both must spell them alike."""

from __future__ import annotations

from typing import Final

# A delivery was stored in the webhook inbox; the payload is its merchant's id. Sent by the
# trigger of migration 0030 when the row's transaction commits; the worker drains that
# merchant's inbox (``worker.webhooks.wakeups``).
WEBHOOK_INBOX: Final = "loyalnest_webhook_inbox"
