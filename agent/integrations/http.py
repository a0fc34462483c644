"""One way to call a JSON REST API: bounded retries, and failures in the fixed kinds.

Jira and GitHub fail the same ways (a refused token, a rate limit, a flaky 5xx, a
network that is down), so the classification lives here once. Messages name the
setting to check and the host, never the token, a header or a response body; the
details go to the log with every secret redacted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from agent.errors import ErrorKind, TaskmasterError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_LOGGED_BODY = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `tries` attempts in all, waits capped at `max_wait` seconds.

    `sleep` is the one place the helper waits, so tests can record the waits.
    """

    tries: int = 4
    max_wait: float = 30.0
    backoff: float = 0.5
    timeout: float = 30.0
    sleep: Sleep = asyncio.sleep

    def backoff_for(self, attempt: int) -> float:
        return float(min(self.max_wait, self.backoff * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Reply:
    """A response the caller expected: its status and its JSON (None when empty)."""

    status: int
    data: Any


class JsonApi:
    """A base URL with its auth headers, speaking JSON, for one service.

    `service` names it in messages ("Jira"); `refused` is the whole message for a
    401/403 ("JIRA_API_TOKEN was refused by ..."); `secrets` are redacted from logs.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        headers: Mapping[str, str],
        *,
        service: str,
        refused: str,
        secrets: Iterable[str],
        retry: RetryPolicy | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.service = service
        self.refused = refused
        self.secrets = tuple(s for s in secrets if s)
        self.retry = retry or RetryPolicy()
        self.host = host_of(base_url)

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
        answer was lost may have taken effect; the caller's own lookup covers it.

        Anything else raises `TaskmasterError`: 401/403 `auth`, 429 `rate_limited`
        (after waiting Retry-After), 5xx `connection` (after retries), a timeout
        `timeout`, an unreachable host `connection`, any other status `internal`.
        """
        policy = self.retry
        where = f"{method} {path}"
        repeatable = method in _IDEMPOTENT if retry_safe is None else retry_safe
        for attempt in range(1, policy.tries + 1):
            last = attempt == policy.tries
            try:
                status, headers, text = await self._send(method, path, params, json_body)
            except TimeoutError:
                log.warning("%s %s timed out (attempt %d)", self.service, where, attempt)
                if method in _IDEMPOTENT and not last:
                    await policy.sleep(policy.backoff_for(attempt))
                    continue
                raise TaskmasterError(
                    ErrorKind.TIMEOUT,
                    f"{self.service} at {self.host} did not answer within {policy.timeout:g}s.",
                ) from None
            except aiohttp.ClientConnectionError as exc:
                log.warning("%s %s failed: %s", self.service, where, self._redact(repr(exc)))
                if method in _IDEMPOTENT and not last:
                    await policy.sleep(policy.backoff_for(attempt))
                    continue
                raise TaskmasterError(
                    ErrorKind.CONNECTION, f"{self.service} at {self.host} could not be reached."
                ) from None

            if 200 <= status < 300 or status in expect:
                return Reply(status, self._parse(status, text, where))
            log.warning(
                "%s %s answered %d: %s",
                self.service,
                where,
                status,
                self._redact(text[:_LOGGED_BODY]),
            )
            if status == 429 or (status == 403 and _rate_limited(headers)):
                if last:
                    raise TaskmasterError(
                        ErrorKind.RATE_LIMITED,
                        f"{self.service} at {self.host} is rate limiting TaskMaster; "
                        "try again in a minute.",
                    )
                wait = self.rate_limit_wait(headers)
                await policy.sleep(min(policy.max_wait, wait or policy.backoff_for(attempt)))
                continue
            if status in (401, 403):
                raise TaskmasterError(ErrorKind.AUTH, self.refused)
            if status >= 500:
                if last or not repeatable:
                    raise TaskmasterError(
                        ErrorKind.CONNECTION,
                        f"{self.service} at {self.host} answered with a server error; "
                        "try again later.",
                    )
                await policy.sleep(policy.backoff_for(attempt))
                continue
            raise TaskmasterError(
                ErrorKind.INTERNAL,
                f"{self.service} at {self.host} refused a request; the details are in the log.",
            )
        raise AssertionError("unreachable: the last attempt returns or raises")

    def rate_limit_wait(self, headers: Mapping[str, str]) -> float | None:
        """Seconds a rate-limited answer asks us to wait, if it says (a service may know more)."""
        return _retry_after(headers)

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


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds (GitHub and Jira send seconds, not HTTP dates)."""
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


def _rate_limited(headers: Mapping[str, str]) -> bool:
    """GitHub's rate limits answer 403 with no remaining quota or with a Retry-After."""
    return headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in headers
