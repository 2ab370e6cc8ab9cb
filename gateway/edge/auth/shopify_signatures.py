"""Shopify's signatures on query strings: OAuth redirects (``hmac``) and app-proxy requests
(``signature``). Both are hex HMAC-SHA256 with the app secret over the decoded parameters,
sorted, but they are joined differently:

- OAuth: ``key=value`` pairs joined with ``&`` (the ``hmac`` parameter left out). Delimiters
  inside keys and values are escaped, as Shopify's own libraries do, so a value cannot smuggle
  in another parameter.
- App proxy: ``key=value`` pairs concatenated with no separator, a multi-valued key's values
  joined with ``,`` (the ``signature`` parameter left out).

Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

QueryItems = Sequence[tuple[str, str]]


def _hex_hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def _single(items: QueryItems, name: str) -> str | None:
    values = [value for key, value in items if key == name]
    return values[0] if len(values) == 1 else None


def oauth_message(items: QueryItems) -> str:
    pairs = (
        "{}={}".format(
            key.replace("%", "%25").replace("=", "%3D").replace("&", "%26"),
            value.replace("%", "%25").replace("&", "%26"),
        )
        for key, value in items
        if key not in ("hmac", "signature")
    )
    return "&".join(sorted(pairs))


def oauth_query_is_authentic(items: QueryItems, secret: str) -> bool:
    """The query of /auth/install or /auth/callback, as Shopify signed it."""
    return _matches(_hex_hmac(secret, oauth_message(items)), _single(items, "hmac"))


def app_proxy_message(items: QueryItems) -> str:
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        if key != "signature":
            grouped.setdefault(key, []).append(value)
    return "".join(sorted(f"{key}={','.join(values)}" for key, values in grouped.items()))


def app_proxy_query_is_authentic(items: QueryItems, secret: str) -> bool:
    """A request Shopify forwarded from the storefront through the app proxy."""
    return _matches(_hex_hmac(secret, app_proxy_message(items)), _single(items, "signature"))
