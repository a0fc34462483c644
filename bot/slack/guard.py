"""What reaches Bolt over HTTP: signed, well formed, and new.

An aiohttp middleware in front of Bolt's request handler, because Bolt answers a
non-numeric timestamp or a signed body it cannot parse with a 500 (which Slack
retries, and a supervisor reads as a broken app), and acts again on a signed request
sent twice. Here:

- no signature, a wrong one, or a timestamp that is not a number or is outside
  Slack's five-minute window: 401, before anything is parsed;
- a correctly signed body that is not what Slack sends (a `payload` that is not a
  JSON object, a JSON body that is not an object): 400;
- a retry (Slack sets `X-Slack-Retry-Num` when it sends an event again) or a signed
  request this process has already answered within the signature's window (a
  replay): 200 with nothing done, so a command never starts a second run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.typedefs import Middleware

WINDOW_S = 60 * 5  # Slack's signature window: older timestamps are refused
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Seen:
    """Signatures answered within the window; each a digest of timestamp and body."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def first_time(self, signature: str, now: float) -> bool:
        """True the first time `signature` is offered (within the window), False after."""
        for old in [s for s, until in self._until.items() if until < now]:
            del self._until[old]
        if signature in self._until:
            return False
        self._until[signature] = now + 2 * WINDOW_S  # the window runs both ways
        return True


def request_guard(signing_secret: str, path: str) -> Middleware:
    """The middleware for Bolt's `path`; other paths (the health check) pass through."""
    seen = Seen()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != path or request.method != "POST":
            return await handler(request)
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        now = time.time()
        if not (
            timestamp.isascii()
            and timestamp.isdigit()
            and abs(now - int(timestamp)) <= WINDOW_S
            and _signed(signing_secret.encode(), timestamp, body, signature)
        ):
            return web.json_response({"error": "invalid request signature"}, status=401)
        if not _well_formed(body, request.content_type):
            return web.json_response({"error": "malformed request body"}, status=400)
        if "X-Slack-Retry-Num" in request.headers or not seen.first_time(signature, now):
            return web.Response(status=200, headers={"X-Slack-No-Retry": "1"})
        return await handler(request)

    return guard


def _signed(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Slack's v0 signature over the raw bytes (slack_sdk's verifier decodes the body as
    UTF-8 first, and raises on a body that is not)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def _well_formed(body: bytes, content_type: str) -> bool:
    """Whether a signed body has the shape Slack sends: a form (with a JSON object in
    `payload`, if it has one) or a JSON object."""
    try:
        text = body.decode("utf-8")
        if content_type == "application/json":
            return isinstance(json.loads(text), dict)
        form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
        payload = form.get("payload")
        return payload is None or isinstance(json.loads(payload[0]), dict)
    except ValueError:  # bad UTF-8, JSON or form encoding
        return False
