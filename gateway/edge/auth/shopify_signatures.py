"""Shopify's signatures on query strings: OAuth redirects (``hmac``) and app-proxy requests
(``signature``). Both are hex HMAC-SHA256 with the app secret over the decoded parameters,
sorted, but they are joined differently:

- OAuth: ``key=value`` pairs sorted by key and joined with ``&`` (the ``hmac`` parameter left
  out). Shopify's two official libraries disagree on how a value is written, and both forms
  are accepted:

  - *decoded* (Shopify's docs, its Python library, and what Shopify support says its servers
    sign): the values as decoded, with only the delimiters ``%``, ``&`` (and ``=`` in keys)
    escaped, so a value cannot smuggle in another parameter;
  - *form-encoded* (``@shopify/shopify-api``, which apps built on Shopify's Node template
    use, and whose callbacks we must accept too): every pair as ``URLSearchParams`` writes it.

  The two can coincide for different queries in one way only: a literal ``+`` in a decoded
  value reads like an encoded space. So a signature over a value with ``+`` also passes for
  the same value with spaces in its place — no other change, no added parameter. No OAuth
  parameter means anything different with a space (codes, shops, timestamps and our states
  have none), so this is safe. A repeated key is refused: the Node library signs only the
  last value of a repeated key, leaving the others unsigned, and Shopify never repeats one.
- App proxy: ``key=value`` pairs concatenated with no separator, a multi-valued key's values
  joined with ``,`` (the ``signature`` parameter left out).

Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote_plus

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


def _form_encoded(text: str) -> str:
    """``text`` as ``URLSearchParams`` writes it (application/x-www-form-urlencoded): only
    ``*-._`` and alphanumerics stay; Python's ``quote_plus`` also keeps ``~``, which
    ``URLSearchParams`` encodes."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def oauth_message_form_encoded(items: QueryItems) -> str:
    """The message ``@shopify/shopify-api`` signs and checks (``generateLocalHmac``)."""
    pairs = sorted((key, value) for key, value in items if key not in ("hmac", "signature"))
    return "&".join(f"{_form_encoded(key)}={_form_encoded(value)}" for key, value in pairs)


def oauth_query_is_authentic(items: QueryItems, secret: str) -> bool:
    """The query of /auth/install or /auth/callback, as Shopify (or its Node library) signed
    it: one ``hmac``, no repeated key, and the signature of either message form."""
    keys = [key for key, _ in items]
    given = _single(items, "hmac")
    if given is None or len(set(keys)) != len(keys):
        return False
    return any(
        _matches(_hex_hmac(secret, message), given)
        for message in (oauth_message(items), oauth_message_form_encoded(items))
    )


def app_proxy_message(items: QueryItems) -> str:
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        if key != "signature":
            grouped.setdefault(key, []).append(value)
    return "".join(sorted(f"{key}={','.join(values)}" for key, values in grouped.items()))


def app_proxy_query_is_authentic(items: QueryItems, secret: str) -> bool:
    """A request Shopify forwarded from the storefront through the app proxy."""
    return _matches(_hex_hmac(secret, app_proxy_message(items)), _single(items, "signature"))
