"""One way to call a JSON REST API: bounded retries, rate limits obeyed, failures classified.

Jira, GitHub and GitLab fail the same ways (a refused token, a rate limit, a flaky
5xx, a network that is down), so the classification lives here once. Errors carry
the service, host and setting (`agent.errors`), never the token, a header or a
response body; the details go to the log with every secret redacted.

Rate limits follow the services' documentation (GitHub's "Rate limits for the REST
API", Atlassian's "Rate limiting"): a 429, or a 403 that says it is one, is
`rate_limited`, never `auth`. TaskMaster sends nothing to that API before the time
the service named (`retry-after` seconds, or `x-ratelimit-reset`, an epoch second on
GitHub and GitLab, an ISO 8601 time on Jira), and that includes requests made by other calls
meanwhile: the gate is the API's, not the request's. A wait longer than
`RetryPolicy.rate_limit_wait` (TASKMASTER_RATE_LIMIT_WAIT) fails the step as
`rate_limited` at once rather than sleeping for an hour; `taskmaster resume` retries
it later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from yarl import URL

from agent.errors import (
    AuthRefused,
    ErrorKind,
    RateLimited,
    ServiceTimeout,
    ServiceUnreachable,
    TaskmasterError,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_LOGGED_BODY = 500
# GitHub: a secondary limit without retry-after or reset means "wait at least a minute".
SECONDARY_LIMIT_WAIT = 60.0
RESET_MARGIN = 1.0


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `tries` attempts in all, backoff capped at `max_wait` seconds.

    `rate_limit_wait` bounds a wait a service asks for; `sleep` and `clock` (epoch
    seconds) are the one place the helper waits and reads the time, so tests can
    record the waits.
    """

    tries: int = 4
    max_wait: float = 30.0
    backoff: float = 0.5
    timeout: float = 30.0
    rate_limit_wait: float = 120.0
    sleep: Sleep = asyncio.sleep
    clock: Callable[[], float] = time.time

    def backoff_for(self, attempt: int) -> float:
        return float(min(self.max_wait, self.backoff * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Reply:
    """A response the caller expected: its status and its JSON (None when empty)."""

    status: int
    data: Any


class JsonApi:
    """A base URL with its auth headers, speaking JSON, for one service.

    `service` names it in messages ("Jira"); `credential` is the setting whose token
    a 401/403 refused, `hint` what to check about it; `secrets` are redacted from logs.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        headers: Mapping[str, str],
        *,
        service: str,
        credential: str,
        hint: str = "",
        secrets: Iterable[str],
        retry: RetryPolicy | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.service = service
        self.credential = credential
        self.hint = hint
        self.secrets = tuple(s for s in secrets if s)
        self.retry = retry or RetryPolicy()
        self.host = host_of(base_url)
        self._not_before = 0.0  # epoch seconds: no request to this API before then

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        expect: Collection[int] = (),
        retry_safe: bool | None = None,
    ) -> Reply:
        """Send `method path` and return a 2xx reply, or one whose status is in `expect`.

        A server error is retried only when a repeat cannot duplicate an effect: for
        idempotent methods, or where the caller says so (`retry_safe`). A POST whose
        answer was lost may have taken effect; the caller's own lookup covers it. A
        rate limit is retried whatever the method: the service did not act on it.

        Anything else raises: 401/403 `AuthRefused`, a rate limit `RateLimited` (after
        waiting what the service asked, within the bound), 5xx `ServiceUnreachable`
        (after retries), a timeout `ServiceTimeout`, an unreachable host
        `ServiceUnreachable`, any other status `internal`.
        """
        policy = self.retry
        where = f"{method} {path}"
        repeatable = method in _IDEMPOTENT if retry_safe is None else retry_safe
        for attempt in range(1, policy.tries + 1):
            last = attempt == policy.tries
            await self._wait_for_gate()
            try:
                status, headers, text = await self._send(method, path, params, json_body)
            except TimeoutError:
                log.warning("%s %s timed out (attempt %d)", self.service, where, attempt)
                if method in _IDEMPOTENT and not last:
                    await policy.sleep(policy.backoff_for(attempt))
                    continue
                raise ServiceTimeout(self.service, self.host, policy.timeout) from None
            except aiohttp.ClientConnectionError as exc:
                log.warning("%s %s failed: %s", self.service, where, self._redact(repr(exc)))
                if method in _IDEMPOTENT and not last:
                    await policy.sleep(policy.backoff_for(attempt))
                    continue
                raise ServiceUnreachable(self.service, self.host) from None

            limit = rate_limit(status, headers, text, policy.clock())
            if 200 <= status < 300 or status in expect:
                if limit is not None:  # the last request the quota allows: wait for the reset
                    self._hold(limit)
                return Reply(status, self._parse(status, text, where))
            log.warning(
                "%s %s answered %d: %s",
                self.service,
                where,
                status,
                self._redact(text[:_LOGGED_BODY]),
            )
            if limit is not None or status == 429:
                wait = limit if limit is not None else policy.backoff_for(attempt)
                self._hold(wait)
                if last or wait > policy.rate_limit_wait:
                    bound = policy.rate_limit_wait if wait > policy.rate_limit_wait else None
                    raise RateLimited(self.service, self.host, wait, bound)
                await self._serve(wait)
                continue
            if status in (401, 403):
                raise AuthRefused(self.service, self.host, self.credential, hint=self.hint)
            if status >= 500:
                # Jira's 503s may carry Retry-After: no request before it, like a rate limit.
                asked = retry_after(headers, policy.clock())
                if last or not repeatable or (asked or 0) > policy.rate_limit_wait:
                    if asked:
                        self._hold(asked)
                    raise ServiceUnreachable(self.service, self.host, status)
                if asked:
                    self._hold(asked)
                    await self._serve(asked)
                else:
                    await policy.sleep(policy.backoff_for(attempt))
                continue
            raise TaskmasterError(
                ErrorKind.INTERNAL,
                f"{self.service} at {self.host} refused a request; the details are in the log.",
            )
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _hold(self, seconds: float) -> None:
        """Send nothing to this API for `seconds` from now."""
        self._not_before = max(self._not_before, self.retry.clock() + seconds)

    async def _wait_for_gate(self) -> None:
        """Wait until the API allows requests again, or refuse if that is too far off."""
        wait = self._not_before - self.retry.clock()
        if wait <= 0:
            return
        if wait > self.retry.rate_limit_wait:
            log.warning("%s: not sending for another %.0fs (rate limit)", self.service, wait)
            raise RateLimited(self.service, self.host, wait, self.retry.rate_limit_wait)
        await self._serve(wait)

    async def _serve(self, seconds: float) -> None:
        """Wait out the gate, which is `seconds` away."""
        until = self._not_before
        await self.retry.sleep(seconds)
        if self._not_before == until:  # nobody extended it meanwhile: that wait is served
            self._not_before = 0.0

    async def _send(
        self, method: str, path: str, params: Mapping[str, str] | None, json_body: Any
    ) -> tuple[int, Mapping[str, str], str]:
        async with self.http.request(
            method,
            self.base_url + path,
            headers=self.headers,
            params=params,
            json=json_body,
            timeout=aiohttp.ClientTimeout(total=self.retry.timeout),
            raise_for_status=False,  # statuses are classified here, whatever the session says
        ) as response:
            text = await response.text(errors="replace")
            return response.status, response.headers, text

    def _parse(self, status: int, text: str, where: str) -> Any:
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            log.warning("%s %s answered %d with non-JSON", self.service, where, status)
            raise TaskmasterError(
                ErrorKind.INTERNAL,
                f"{self.service} at {self.host} answered something TaskMaster could not read.",
            ) from None

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def host_of(url: str) -> str:
    """The host (and an explicit port) of `url`, as people know it from the setting."""
    parsed = URL(url)
    host = parsed.host or url
    return f"{host}:{parsed.explicit_port}" if parsed.explicit_port else host


def rate_limit(status: int, headers: Mapping[str, str], body: str, now: float) -> float | None:
    """Seconds to send nothing more, if this response says so; None when it does not.

    A 2xx says so when its quota is spent (`x-ratelimit-remaining: 0` with a reset
    time). An error says so when it is a 429, or a 403 that is a rate limit (no quota
    left, a `retry-after`, or GitHub's "secondary rate limit" message): the later of
    `retry-after` and the reset time, else GitHub's "at least one minute" for a
    secondary limit that names no time. GitHub and Jira spell the headers
    `X-RateLimit-*`, GitLab `RateLimit-*`.
    """
    after = retry_after(headers, now)
    remaining = headers.get("X-RateLimit-Remaining") or headers.get("RateLimit-Remaining") or ""
    spent = remaining.strip() == "0"
    reset = reset_at(headers.get("X-RateLimit-Reset") or headers.get("RateLimit-Reset") or "", now)
    # The reset is a whole second (or minute, on Jira): wait past it, never up to it.
    until_reset = max(0.0, reset - now) + RESET_MARGIN if reset is not None else None
    if 200 <= status < 300:
        return until_reset if spent else None
    secondary = status == 403 and "secondary rate limit" in body.lower()
    limited = status == 429 or (status == 403 and (spent or after is not None or secondary))
    if not limited:
        return None
    # Never sooner than either allows: both may come (GitLab sends both on a 429).
    # The reset counts when the quota is spent, or a 429 names no quota (GitLab's).
    waits = [after, until_reset if spent or (status == 429 and not remaining) else None]
    named = [wait for wait in waits if wait is not None]
    if named:
        return max(named)
    if status == 403:
        return SECONDARY_LIMIT_WAIT
    return None  # a bare 429: the caller backs off


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """`Retry-After` in seconds: delay-seconds, or an HTTP date (RFC 9110)."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def reset_at(value: str, now: float) -> float | None:
    """`X-RateLimit-Reset` as epoch seconds: GitHub sends epoch seconds, Jira ISO 8601.

    A small number is taken as seconds from now (some APIs send that instead).
    """
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return number if number > 1_000_000_000 else now + number
