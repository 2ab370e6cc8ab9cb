"""Minting Shopify-style session tokens for local use (the CLI's `token` command and tests).

In production Shopify App Bridge mints these; the format here is the same, so the subgraphs
verify local and real tokens by one path.
"""

from __future__ import annotations

import time
import uuid

from subgraphs.kit.auth import session_token_jwt

ONE_DAY_SECONDS = 24 * 60 * 60


def mint_session_token(
    *,
    shop_domain: str,
    app_secret: str,
    api_key: str,
    user_id: str = "1",
    ttl_seconds: int = ONE_DAY_SECONDS,
    now: int | None = None,
) -> str:
    issued_at = int(time.time()) if now is None else now
    claims = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": api_key,
        "sub": user_id,
        "exp": issued_at + ttl_seconds,
        "nbf": issued_at,
        "iat": issued_at,
        "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    token: bytes = session_token_jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, app_secret)
    return token.decode()
