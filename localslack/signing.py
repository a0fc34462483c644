"""Request signing exactly as Slack does it, so the app's real verifier can check us."""

from __future__ import annotations

import hashlib
import hmac
import time


def sign_request(secret: str, timestamp: str, body: bytes) -> str:
    """Return Slack's `X-Slack-Signature` for `body` sent at `timestamp` (version v0)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request it sends to an app."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign_request(secret, timestamp, body),
    }
