"""API token -> the SHA-256 hex digest that settings and directory.yaml store in its place."""

from __future__ import annotations

import hashlib


def hash_token(token: str) -> str:
    """What goes into SALESPULSE_INGEST_HTTP__TOKENS_SHA256 and directory.yaml's token_sha256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
