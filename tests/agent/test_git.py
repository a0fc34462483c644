"""git as a subprocess: failures are classified, cancellation leaves no process behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from agent.errors import ErrorKind, TaskmasterError
from agent.git import git


@dataclass
class SilentServer:
    """An HTTP server that takes git's request and never answers it."""

    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def silent_server() -> AsyncIterator[SilentServer]:
    silent = SilentServer()

    async def hold(_: web.Request) -> web.Response:
        silent.arrived.set()
        try:
            await asyncio.Event().wait()
        finally:  # aiohttp cancels the handler when the client's connection closes
            silent.hung_up.set()
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hold)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    silent.url = str(server.make_url("/repo.git"))
    try:
        yield silent
    finally:
        await server.close()


async def test_git_cancelled_mid_call_kills_its_process(
    silent_server: SilentServer, tmp_path: Path
) -> None:
    clone = asyncio.create_task(git("clone", "-q", silent_server.url, str(tmp_path / "clone")))
    await silent_server.arrived.wait()
    clone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await clone
    async with asyncio.timeout(10):  # git's helper held the connection: it must be gone
        await silent_server.hung_up.wait()


async def test_git_failure_names_the_command_not_its_output(tmp_path: Path) -> None:
    with pytest.raises(TaskmasterError) as failed:
        await git("checkout", "no-such-branch", cwd=tmp_path, redact=("secret",))
    assert failed.value.kind == ErrorKind.GIT
    assert (
        failed.value.message == "`git checkout no-such-branch` failed; the details are in the log."
    )
