"""Short-lived links to download a data request's export (the export grows with the
customer's ledger, so the API hands out a link instead of the document itself).

A link is ``{app_url}/gdpr/exports/{merchant id}/{request id}?expires=…&signature=…``: an
HMAC-SHA256 over the three, with a key derived from the token secret for this one purpose.
Whoever holds a link may download that export until it expires (15 minutes), as with Shopify's
own signed file URLs; the edge app checks it and answers the file (``gateway/edge/gdpr``)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

DOWNLOAD_TTL = timedelta(minutes=15)
_PURPOSE = b"loyalnest:gdpr-export-download"


@dataclass(frozen=True, slots=True)
class Download:
    url: str
    expires_at: datetime


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _signature(secret: str, merchant_id: str, request_id: str, expires: int) -> str:
    message = f"{merchant_id}\x00{request_id}\x00{expires}".encode()
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def signed_download(
    app_url: str, secret: str, merchant_id: str, request_id: str, *, now: datetime
) -> Download:
    expires_at = (now + DOWNLOAD_TTL).replace(microsecond=0)
    expires = int(expires_at.timestamp())
    query = urlencode(
        {"expires": expires, "signature": _signature(secret, merchant_id, request_id, expires)}
    )
    path = f"/gdpr/exports/{quote(merchant_id)}/{quote(request_id)}"
    return Download(url=f"{app_url.rstrip('/')}{path}?{query}", expires_at=expires_at)


def download_is_valid(
    secret: str,
    merchant_id: str,
    request_id: str,
    expires: str | None,
    signature: str | None,
    *,
    now: datetime,
) -> bool:
    """The link was signed by us for this export and has not expired (constant-time)."""
    if not expires or not signature or not expires.isdigit():
        return False
    if int(expires) < int(now.astimezone(UTC).timestamp()):
        return False
    expected = _signature(secret, merchant_id, request_id, int(expires))
    return hmac.compare_digest(expected.encode(), signature.encode())
