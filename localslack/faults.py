"""Injected failures: rate limits and server errors on demand, to test a client's retries."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

ERROR_CODES = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}


@dataclass(frozen=True)
class Fault:
    """One failing answer: the HTTP status and, for 429, the Retry-After seconds."""

    status: int
    retry_after: int

    @property
    def error(self) -> str:
        return ERROR_CODES.get(self.status, f"http_{self.status}")

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.status == 429 else {}


class Faults:
    """Decides, call by call, whether a Web API method answers with a failure instead."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault]] = {}
        self._every = 0
        self._every_fault = Fault(429, 0)
        self._every_methods: set[str] | None = None
        self._counted = 0

    def fail(self, method: str, *, status: int = 429, retry_after: int = 1, times: int = 1) -> None:
        self._queued.setdefault(method, deque()).extend([Fault(status, retry_after)] * times)

    def fail_every(
        self, n: int, *, status: int = 429, retry_after: int = 0, methods: set[str] | None = None
    ) -> None:
        self._every = n
        self._every_fault = Fault(status, retry_after)
        self._every_methods = set(methods) if methods is not None else None
        self._counted = 0

    def next_for(self, method: str) -> Fault | None:
        """The fault for this call of `method`, if any; queued faults come first."""
        queued = self._queued.get(method)
        if queued:
            return queued.popleft()
        if self._every <= 0:
            return None
        if self._every_methods is not None and method not in self._every_methods:
            return None
        self._counted += 1
        return self._every_fault if self._counted % self._every == 0 else None
