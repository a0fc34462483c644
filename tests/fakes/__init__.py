"""Fake Jira, GitHub and GitLab servers: real aiohttp applications on 127.0.0.1.

They speak the real APIs' paths, status codes and JSON shapes, keep state, record
every request, check the auth header, and can be told to answer a path with a
given status a number of times (`fail`), or to hold a request until the test lets
it go (`hold`), so the clients are tested over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import time
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
    at: float = 0.0  # time.monotonic() when it arrived
    wall: float = 0.0  # time.time() when it arrived, to compare with epoch reset times


@dataclass
class Failure:
    """Answer `status` (with `headers`) `times` more times; `after` runs the handler first.

    `after=True` is a request whose effect happened but whose answer was lost.
    """

    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    after: bool = False
    body: Any = None  # the service's own error body; a generic one when None


@dataclass
class Hold:
    """One request held by the fake until the test decides: `release()` or `drop()`.

    `arrived` is set when the request is being held. With `after=False` it is held
    before the handler: `release()` lets the handler run, `drop()` answers 503 without
    running it (the request never took effect). With `after=True` the handler has run
    (the effect happened) and its answer is held: `release()` sends it, `drop()` sends
    a 503 instead (the effect happened but the answer was lost). Either way a client
    that died meanwhile gets nothing.
    """

    after: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _decided: asyncio.Event = field(default_factory=asyncio.Event)
    _proceed: bool = True

    def release(self) -> None:
        self._proceed = True
        self._decided.set()

    def drop(self) -> None:
        self._proceed = False
        self._decided.set()

    @property
    def decided(self) -> bool:
        return self._decided.is_set()

    async def wait(self) -> bool:
        """Mark the request arrived, wait for the decision; True means go on."""
        self.arrived.set()
        await self._decided.wait()
        return self._proceed


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
        self._holds: dict[tuple[str, str], list[Hold]] = {}
        self._all_holds: list[Hold] = []
        # Headers every answer carries (a rate-limit quota, say), set by a test.
        self.extra_headers: dict[str, str] = {}
        self.app = web.Application(middlewares=[self._middleware])
        self._server: TestServer | None = None

    def authorized(self, request: web.Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> web.StreamResponse:
        return web.json_response({"message": "Unauthorized"}, status=401)

    def path_of(self, request: web.Request) -> str:
        """The path requests are recorded, failed and held by (GitLab's fake keeps it encoded)."""
        return request.path

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        after: bool = False,
        body: Any = None,
    ) -> None:
        """Answer `method path` with `status` for the next `times` requests."""
        plan = self._failures.setdefault((method, path), [])
        plan.append(Failure(status, times, dict(headers or {}), after, body))

    def hold(self, method: str, path: str, *, after: bool = False) -> Hold:
        """Hold the next request for `method path` until the returned `Hold` is decided."""
        held = Hold(after=after)
        self._holds.setdefault((method, path), []).append(held)
        self._all_holds.append(held)
        return held

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
        for held in self._all_holds:
            if not held.decided:
                held.drop()  # a held handler would keep the server from closing
        if self._server is not None:
            await self._server.close()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await self._answer(request, handler)
        response.headers.update(self.extra_headers)
        return response

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()  # cached: the handler can still read it
        path = self.path_of(request)
        self.requests.append(
            Recorded(
                request.method,
                path,
                dict(request.query),
                dict(request.headers),
                json.loads(raw) if raw else None,
                time.monotonic(),
                time.time(),
            )
        )
        if not self.authorized(request):
            return self.unauthorized()
        holds = self._holds.get((request.method, path))
        if holds:
            return await self._held(request, handler, holds.pop(0))
        failure = self._next_failure(request.method, path)
        if failure is None:
            return await handler(request)
        if failure.after:
            await handler(request)
        body = failure.body or {"message": f"planned failure {failure.status}"}
        return web.json_response(body, status=failure.status, headers=failure.headers)

    async def _held(self, request: web.Request, handler: Handler, held: Hold) -> web.StreamResponse:
        dropped = web.json_response({"message": "dropped by the test"}, status=503)
        if held.after:
            response = await handler(request)
            return response if await held.wait() else dropped
        return await handler(request) if await held.wait() else dropped

    def _next_failure(self, method: str, path: str) -> Failure | None:
        plan = self._failures.get((method, path), [])
        while plan and plan[0].times <= 0:
            plan.pop(0)
        if not plan:
            return None
        plan[0].times -= 1
        return plan[0]
