"""Fake Jira and GitHub servers: real aiohttp applications on 127.0.0.1.

They speak the real APIs' paths, status codes and JSON shapes, keep state, record
every request, check the auth header, and can be told to answer a path with a
given status a number of times (`fail`), so the clients are tested over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from aiohttp.test_utils import TestServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Failure:
    """Answer `status` (with `headers`) `times` more times; `after` runs the handler first.

    `after=True` is a request whose effect happened but whose answer was lost.
    """

    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    after: bool = False


class Sleeps:
    """A `sleep` for `RetryPolicy` that records each wait; `real` also waits it out."""

    def __init__(self, *, real: bool = False) -> None:
        self.real = real
        self.waits: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.waits.append(delay)
        await asyncio.sleep(delay if self.real else 0)


class FakeServer:
    """The shared machinery: recording, auth, planned failures, start and stop."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._failures: dict[tuple[str, str], list[Failure]] = {}
        self.app = web.Application(middlewares=[self._middleware])
        self._server: TestServer | None = None

    def authorized(self, request: web.Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> web.StreamResponse:
        return web.json_response({"message": "Unauthorized"}, status=401)

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        after: bool = False,
    ) -> None:
        """Answer `method path` with `status` for the next `times` requests."""
        plan = self._failures.setdefault((method, path), [])
        plan.append(Failure(status, times, dict(headers or {}), after))

    def to(self, method: str, path: str) -> list[Recorded]:
        """The recorded requests for `method path`."""
        return [r for r in self.requests if r.method == method and r.path == path]

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"http://{self._server.host}:{self._server.port}"

    async def __aenter__(self) -> Self:
        self._server = TestServer(self.app)
        await self._server.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.close()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()  # cached: the handler can still read it
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                json.loads(raw) if raw else None,
            )
        )
        if not self.authorized(request):
            return self.unauthorized()
        failure = self._next_failure(request.method, request.path)
        if failure is None:
            return await handler(request)
        if failure.after:
            await handler(request)
        body = {"message": f"planned failure {failure.status}"}
        return web.json_response(body, status=failure.status, headers=failure.headers)

    def _next_failure(self, method: str, path: str) -> Failure | None:
        plan = self._failures.get((method, path), [])
        while plan and plan[0].times <= 0:
            plan.pop(0)
        if not plan:
            return None
        plan[0].times -= 1
        return plan[0]
