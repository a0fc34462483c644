"""Running the repository's commands (its setup and its tests) in the sandbox.

The command runs code from the repository, which the model has just edited, so it
runs in the run's `Sandbox` (no secrets, no network, nothing but its workspace,
limits), in its own process group (so a timeout kills everything it started), with
an output cap (so a chatty suite cannot eat memory), and whatever it prints passes
the secret redactor before anyone reads it.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from agent.models import TestResult
from agent.sandbox.base import Sandbox
from agent.tools import command_groups

log = logging.getLogger(__name__)

# How long to wait for the last output once the process group is killed; only a
# process that left the group (setsid) could hold the pipe open that long.
DRAIN_SECONDS = 5.0
OUTPUT_LIMIT = 60_000

_PYTEST_SUMMARY = re.compile(
    r"\b(?:\d+ (?:passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)"
    r"|no tests ran)\b.*\bin \d+(?:\.\d+)? ?s(?:econds)?\b"
)
_PYTEST_COUNT = re.compile(r"\b(\d+) (passed|failed|errors?)\b")


def _as_is(text: str) -> str:
    return text


def pytest_counts(output: str) -> tuple[int, int, int] | None:
    """(passed, failed, errors) from pytest's last summary line in `output`, if there is one."""
    for line in reversed(output.splitlines()):
        if _PYTEST_SUMMARY.search(line):
            counts = {"passed": 0, "failed": 0, "errors": 0}
            for number, word in _PYTEST_COUNT.findall(line):
                counts["errors" if word.startswith("error") else word] += int(number)
            return counts["passed"], counts["failed"], counts["errors"]
    return None


class _Tail:
    """The last `limit` characters of a stream, in memory bounded by about twice that."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.cut = 0
        self._parts: list[str] = []
        self._size = 0

    def add(self, text: str) -> None:
        if text:
            self._parts.append(text)
            self._size += len(text)
            if self._size > 2 * self.limit:
                self._trim()

    def _trim(self) -> None:
        joined = "".join(self._parts)
        excess = len(joined) - self.limit
        if excess > 0:
            self.cut += excess
            joined = joined[excess:]
        self._parts = [joined]
        self._size = len(joined)

    def text(self) -> str:
        self._trim()
        body = self._parts[0]
        return f"[... {self.cut} characters cut ...]\n{body}" if self.cut else body


class _Collector(asyncio.SubprocessProtocol):
    """Keeps the tail of the merged output and says when the process exited."""

    def __init__(self, limit: int) -> None:
        self._tail = _Tail(limit)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.exited = asyncio.Event()
        # Set once the process has exited and its output pipe is closed.
        self.closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self._tail.add(self._decoder.decode(data))

    def process_exited(self) -> None:
        self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()

    def output(self) -> str:
        self._tail.add(self._decoder.decode(b"", final=True))
        return self._tail.text()


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return
    # ProcessLookupError: the group is already gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_command(
    command: str,
    workspace: Path,
    *,
    sandbox: Sandbox,
    # A parameter, not the caller's asyncio.timeout: on timeout the result is still a
    # TestResult (timed_out) that the review shows, not an exception.
    timeout: float,  # noqa: ASYNC109
    env: Mapping[str, str] | None = None,
    output_limit: int = OUTPUT_LIMIT,
    redact: Callable[[str], str] = _as_is,
) -> TestResult:
    """Run `command` through the shell in `workspace`, inside `sandbox`, with the
    repository's `env`, and report what happened; never raises for the command's own
    failures (they are the result)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    await sandbox.prepare(workspace)
    launch = sandbox.launch(command, workspace, env or {})
    companion = launch.companion
    try:
        transport, collector = await loop.subprocess_exec(
            lambda: _Collector(output_limit),
            *launch.argv,
            cwd=workspace,
            env=launch.env,
            pass_fds=launch.pass_fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group, so a timeout can kill everything it started.
            start_new_session=True,
        )
    except OSError as exc:
        if companion is not None:
            await companion.stop()
        return TestResult(
            command=command,
            ok=False,
            duration=time.monotonic() - started,
            output_tail=redact(f"The command could not be started: {exc}"),
        )
    timed_out = False
    problem = ""
    command_groups.remember(workspace, transport.get_pid())
    try:
        if companion is not None:
            try:
                await companion.started()
            except (OSError, TimeoutError) as exc:
                problem = f"The sandbox's network could not be set up: {exc or 'timed out'}"
        if not problem:
            try:
                async with asyncio.timeout(timeout):
                    await collector.exited.wait()
            except TimeoutError:
                timed_out = True
        duration = time.monotonic() - started
    finally:
        # Kill the group whatever happened: on timeout (or cancellation) the command and
        # its children; after a normal exit, any process the tests left running, which
        # would otherwise live on and hold the output pipe open. In bwrap, the group's
        # leader takes its whole PID namespace with it.
        _kill_group(transport.get_pid())
        command_groups.forget(workspace)
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                await collector.closed.wait()
        except TimeoutError:
            log.warning("a process started by %r left its process group; not waiting", command)
        finally:
            transport.close()
            if companion is not None:
                await companion.stop()
            await sandbox.finish(workspace)
    if problem:
        # What bwrap itself printed (a mount it could not make, say) says why.
        said = redact(collector.output()).strip()
        tail = f"{problem}\n{said}" if said else problem
        return TestResult(command=command, ok=False, duration=duration, output_tail=tail)
    output = redact(collector.output())
    exit_code = None if timed_out else transport.get_returncode()
    ok = exit_code == 0
    limit = "" if ok else sandbox.explain_failure(output, exit_code)
    if timed_out:
        output += (
            f"\n[timed out after {timeout:g}s; the command and everything it started were killed]"
        )
    passed, failed, errors = pytest_counts(output) or (0, 0, 0)
    return TestResult(
        command=command,
        ok=ok,
        passed=passed,
        failed=failed,
        errors=errors,
        exit_code=exit_code,
        timed_out=timed_out,
        duration=duration,
        output_tail=output,
        limit=limit,
    )
