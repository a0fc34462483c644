"""Listeners answer Slack at their ack; whatever follows the ack runs on as its own task.

Bolt with `process_before_response=False` runs a listener as a task and polls for its
ack in 10 ms ticks, so every ack waited for the next tick, and under a burst the ticks
queued behind the work the listeners do after acking (fetching tickets, claims,
replies). The app runs with `process_before_response=True` instead, where Bolt answers
as soon as the listener returns, and every listener is wrapped here: the wrapper starts
the listener as a task and returns once it has acked (or ended, or raised first), so the
ack reaches Slack at once and the rest of the listener carries on unchanged.

Why not Bolt's lazy listeners (`ack=`, `lazy=[...]`): a lazy function's exception is only
logged by Bolt, never passed to the app's error handler, so the person would no longer be
told privately that something failed; and each listener would be split in two, its
checks done twice. Here a listener stays one function, in the same order: what it does
before its ack (a modal's field errors) is still in the ack, an exception before the ack
is Bolt's as before (error handler, HTTP 500), and one after it goes to the same error
handler with the request's body, client and `respond`, as Bolt did. Listeners that take
no `ack` (events, which Bolt acks itself) run wholly as a task, as before.

Acks go first: a listener that has acked carries on only once no other request is
waiting for its ack (`AckFirst`), or after `YIELD_AT_MOST`. Under a burst of commands
the work after one ack (a ticket fetch, a refusal posted) would otherwise share the
event loop with the acks still due, and Slack's deadline is on the acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

ACK_WITHIN = 3.0  # seconds: Bolt's own ack timeout, after which Slack has given up
YIELD_AT_MOST = 0.25  # seconds a listener's work after its ack waits for other acks

Listener = Callable[..., Awaitable[None]]


class ErrorHandler(Protocol):
    """The app's error handler (`bot.slack.app.on_error`)."""

    async def __call__(
        self, error: Exception, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None: ...


class AckFirst:
    """Counts the requests waiting for their ack, so work after an ack can let them go
    first (bounded by `YIELD_AT_MOST`, so a steady stream of requests cannot starve it)."""

    def __init__(self) -> None:
        self._waiting = 0
        self._none_waiting = asyncio.Event()
        self._none_waiting.set()

    def arrived(self) -> None:
        self._waiting += 1
        self._none_waiting.clear()

    def answered(self) -> None:
        self._waiting -= 1
        if self._waiting == 0:
            self._none_waiting.set()

    async def yield_to_acks(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(YIELD_AT_MOST):
                await self._none_waiting.wait()


class _Acked(AsyncAck):
    """The request's ack, which also says that it was called; the listener resumes
    once the other requests in flight have had theirs."""

    def __init__(self, ack: AsyncAck, acked: asyncio.Future[None], first: AckFirst) -> None:
        self.response = None  # what AsyncAck's own (untyped) __init__ sets
        self._ack, self._acked, self._first = ack, acked, first

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        self.response = await self._ack(*args, **kwargs)
        if not self._acked.done():
            self._acked.set_result(None)
        await self._first.yield_to_acks()
        return self.response


class AfterAck:
    """Wraps listeners so that Bolt answers at their ack; keeps their tasks alive."""

    def __init__(self, on_error: ErrorHandler) -> None:
        self._on_error = on_error
        self._tasks: set[asyncio.Task[None]] = set()
        self._first = AckFirst()

    def __call__(self, listener: Listener) -> Listener:
        names = list(inspect.signature(listener).parameters)
        takes_ack = "ack" in names

        async def answered_at_ack(args: AsyncArgs) -> None:
            acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            kwargs = {name: getattr(args, name) for name in names}
            if takes_ack:
                kwargs["ack"] = _Acked(args.ack, acked, self._first)
            else:
                acked.set_result(None)  # Bolt acks an event itself
            self._first.arrived()
            try:
                task = asyncio.create_task(self._run(listener, kwargs, acked, args))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                done, _ = await asyncio.wait({acked}, timeout=ACK_WITHIN)
            finally:
                self._first.answered()
            if done:
                acked.result()  # an exception raised before the ack is Bolt's to handle
            else:
                acked.cancel()  # too late to answer: what follows goes to the error handler

        answered_at_ack.__name__ = answered_at_ack.__qualname__ = listener.__name__
        return answered_at_ack

    async def _run(
        self,
        listener: Listener,
        kwargs: dict[str, Any],
        acked: asyncio.Future[None],
        args: AsyncArgs,
    ) -> None:
        try:
            await listener(**kwargs)
        except Exception as error:
            if not acked.done():
                acked.set_exception(error)
                return
            try:
                await self._on_error(error, args.body, args.client, args.respond)
            except Exception:
                log.exception("the error handler failed on %s", error)
        else:
            if not acked.done():
                acked.set_result(None)  # ended without acking: Bolt says so
