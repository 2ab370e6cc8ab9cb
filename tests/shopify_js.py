"""Signatures made by Shopify's own Node library (``@shopify/shopify-api``, a dev dependency
of gateway/router) through ``tests/shopify_js_signer.mjs``: the suite checks our verifiers
against the official implementation, not only against our reading of Shopify's docs."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from cli.stack import ensure_router_installed

SIGNER = Path(__file__).with_name("shopify_js_signer.mjs")
# Values of every shape that trips a hand-written canonical form: base64 padding, the
# characters form-encoding changes, delimiters, spaces, non-ASCII.
VALUE_SHAPES = {
    "padded-base64": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvdGVzdA==",
    "slash-plus-equals": "a/b+c=d",
    "spaces": "two words here",
    "delimiters": "50%&more;x",
    "non-ascii": "café ✓",
}


def js_signature(
    kind: str, secret: str, *, query: Mapping[str, object] | None = None, body: str | None = None
) -> str:
    """``kind``: ``oauth`` (hex, over ``query``), ``proxy`` (hex, over ``query``; a list value
    is a repeated key) or ``webhook`` (base64, over ``body``)."""
    ensure_router_installed()
    node = shutil.which("node")
    assert node is not None, "the router's checks need Node already"
    request = {"kind": kind, "secret": secret, "query": query, "body": body}
    completed = subprocess.run(
        [node, str(SIGNER)], input=json.dumps(request), capture_output=True, text=True, check=True
    )
    return completed.stdout
