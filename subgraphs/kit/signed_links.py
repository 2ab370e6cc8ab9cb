"""Short-lived signed links: ``?expires=…&signature=…``, an HMAC-SHA256 over the link's parts
and its expiry, with a key derived from a secret for one purpose only (a link signed for one
purpose never opens another). As Shopify's staged upload and file URLs: whoever holds the
link may use it until it expires."""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode


class LinkCheck(enum.Enum):
    VALID = "valid"
    # Not signed by us for these parts (or no signature): 401 at the edge.
    FORGED = "forged"
    # Ours, but past its expiry: 403.
    EXPIRED = "expired"


def _signature(secret: str, purpose: str, parts: Sequence[str], expires: int) -> str:
    key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
    message = "\x00".join([*parts, str(expires)]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_query(secret: str, purpose: str, parts: Sequence[str], expires_at: datetime) -> str:
    """The query string (``expires=…&signature=…``) of a link to ``parts``."""
    expires = int(expires_at.timestamp())
    return urlencode({"expires": expires, "signature": _signature(secret, purpose, parts, expires)})


def check_link(
    secret: str,
    purpose: str,
    parts: Sequence[str],
    expires: str | None,
    signature: str | None,
    *,
    now: datetime,
) -> LinkCheck:
    """Whether the link was signed by us for ``parts`` (constant-time), and is still valid."""
    if not expires or not signature or not expires.isdigit():
        return LinkCheck.FORGED
    expected = _signature(secret, purpose, parts, int(expires))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return LinkCheck.FORGED
    if int(expires) < int(now.astimezone(UTC).timestamp()):
        return LinkCheck.EXPIRED
    return LinkCheck.VALID
