"""Short-lived, single-use links to download a data request's export (the export grows with
the customer's ledger, so the API hands out a link instead of the document itself).

A link is ``{app_url}/gdpr/exports/{merchant id}/{request id}?expires=…&link=…&signature=…``:
an HMAC-SHA256 over the four, with a key derived from the token secret for this one purpose;
``link`` is a random id. The edge app checks it, records the link's id as used in the same
transaction that reads the export (``GdprExportDownloadsRepository.use_link``), and answers
the file (``gateway/edge/gdpr``): a link downloads once, within 15 minutes. The export is the
most sensitive document we hold, and a link travels (browser history, proxies' logs, a
forwarded email): replaying one gets 410, and the merchant asks for a new link. Making one
writes nothing (``exportDownload`` is a query), so asking costs nothing either."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

DOWNLOAD_TTL = timedelta(minutes=15)
_PURPOSE = b"loyalnest:gdpr-export-download"
_LINK_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Download:
    url: str
    expires_at: datetime


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _signature(secret: str, merchant_id: str, request_id: str, expires: int, link: str) -> str:
    message = f"{merchant_id}\x00{request_id}\x00{expires}\x00{link}".encode()
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def signed_download(
    app_url: str, secret: str, merchant_id: str, request_id: str, *, now: datetime
) -> Download:
    expires_at = (now + DOWNLOAD_TTL).replace(microsecond=0)
    expires = int(expires_at.timestamp())
    link = secrets.token_hex(16)
    query = urlencode(
        {
            "expires": expires,
            "link": link,
            "signature": _signature(secret, merchant_id, request_id, expires, link),
        }
    )
    path = f"/gdpr/exports/{quote(merchant_id)}/{quote(request_id)}"
    return Download(url=f"{app_url.rstrip('/')}{path}?{query}", expires_at=expires_at)


def download_is_valid(
    secret: str,
    merchant_id: str,
    request_id: str,
    expires: str | None,
    link: str | None,
    signature: str | None,
    *,
    now: datetime,
) -> bool:
    """The link was signed by us for this export and has not expired (constant-time). Whether
    it was used already is the database's to say."""
    if not expires or not signature or not expires.isdigit():
        return False
    if not link or not _LINK_ID.fullmatch(link):
        return False
    if int(expires) < int(now.astimezone(UTC).timestamp()):
        return False
    expected = _signature(secret, merchant_id, request_id, int(expires), link)
    return hmac.compare_digest(expected.encode(), signature.encode())
