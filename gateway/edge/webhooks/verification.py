"""Shopify's webhook signature: base64 HMAC-SHA256 of the raw body with the app secret."""

from __future__ import annotations

import base64
import hashlib
import hmac


def webhook_signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_is_valid(body: bytes, header: str | None, secrets: tuple[str, ...]) -> bool:
    """Constant-time compare against each accepted secret (the current one, and the previous
    one while a rotation is under way)."""
    if not header:
        return False
    candidate = header.strip().encode()
    return any(
        hmac.compare_digest(webhook_signature(body, secret).encode(), candidate)
        for secret in secrets
        if secret
    )
