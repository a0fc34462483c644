"""Running the repository's tests: which command, in what environment, within what limits.

The command runs code from the repository, which the model has just edited, so it
gets an environment with no secrets in it, its own process group (so a timeout kills
everything it started), and an output cap (so a chatty suite cannot eat memory).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from agent.models import TestResult

log = logging.getLogger(__name__)

TASKMASTER_FILE = ".taskmaster.md"
PYTEST_COMMAND = "python -m pytest -q"
# How long to wait for the last output once the process group is killed; only a
# process that left the group (setsid) could hold the pipe open that long.
DRAIN_SECONDS = 5.0

_TEST_COMMAND_LINE = re.compile(
    # "Test command: make test", also as a list item or in bold ("**Test command:**").
    r"^\s*(?:[-*+]\s+)?(?:\*\*|__)?test command(?:\*\*|__)?\s*:"
    r"\s*(?:\*\*|__)?\s*(?P<command>.+?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_MAKE_TEST_TARGET = re.compile(r"^test\s*:(?!=)", re.MULTILINE)
_NPM_PLACEHOLDER = "no test specified"  # what `npm init` writes as the test script

_SECRET_PREFIXES = (
    "SLACK_",
    "JIRA_",
    "GITHUB_",
    "TASKMASTER_",
    "AWS_",
    "ANTHROPIC_",
    "OPENAI_",
    "GOOGLE_",
    "AZURE_",
)
_SECRET_PARTS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
)
# Not a secret by name but a door to one: the ssh agent would let the tests log in
# or push with the keys of whoever runs TaskMaster.
_SECRET_NAMES = frozenset({"SSH_AUTH_SOCK"})

_PYTEST_SUMMARY = re.compile(
    r"\b(?:\d+ (?:passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)"
    r"|no tests ran)\b.*\bin \d+(?:\.\d+)? ?s(?:econds)?\b"
)
_PYTEST_COUNT = re.compile(r"\b(\d+) (passed|failed|errors?)\b")


def _command_in_taskmaster_file(repo: Path) -> str | None:
    try:
        text = (repo / TASKMASTER_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for match in _TEST_COMMAND_LINE.finditer(text):
        command = match["command"]
        if len(command) >= 2 and command.startswith("`") and command.endswith("`"):
            command = command.strip("`").strip()
        if command:
            return command
    return None


def _is_pytest_project(repo: Path) -> bool:
    markers = ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini")
    if any((repo / name).is_file() for name in markers):
        return True
    tests = repo / "tests"
    return tests.is_dir() and next(tests.rglob("*.py"), None) is not None


def _has_npm_test(repo: Path) -> bool:
    try:
        package = json.loads((repo / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    scripts = package.get("scripts") if isinstance(package, dict) else None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    return isinstance(test, str) and bool(test.strip()) and _NPM_PLACEHOLDER not in test


def _has_make_test(repo: Path) -> bool:
    for name in ("GNUmakefile", "makefile", "Makefile"):
        try:
            text = (repo / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        return _MAKE_TEST_TARGET.search(text) is not None
    return False


def test_command_for(repo: Path, configured: str | None) -> str | None:
    """The repository's test command: `.taskmaster.md`, else the setting, else detected."""
    from_file = _command_in_taskmaster_file(repo)
    if from_file:
        return from_file
    if configured and configured.strip():
        return configured.strip()
    if _is_pytest_project(repo):
        return PYTEST_COMMAND
    if _has_npm_test(repo):
        return "npm test"
    if (repo / "go.mod").is_file():
        return "go test ./..."
    if (repo / "Cargo.toml").is_file():
        return "cargo test"
    if _has_make_test(repo):
        return "make test"
    return None


test_command_for.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def is_secret_name(name: str) -> bool:
    """Whether an environment variable looks like it holds a credential."""
    upper = name.upper()
    return (
        upper in _SECRET_NAMES
        or upper.startswith(_SECRET_PREFIXES)
        or any(part in upper for part in _SECRET_PARTS)
        or upper.endswith("_KEY")
    )


def scrubbed_env(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of `environ` without secrets, set up so the tests leave no caches behind."""
    env = {name: value for name, value in environ.items() if not is_secret_name(name)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTEST_ADDOPTS"] = "-p no:cacheprovider"
    # `python` must be the interpreter TaskMaster runs in: the detected command is
    # `python -m pytest`, and on a host where `python` is missing (Debian ships only
    # `python3`) or is another installation without pytest, the tests would fail for
    # reasons that have nothing to do with the change. Not resolved, so a virtualenv's
    # bin folder (with its other scripts) comes first, as activating it would do.
    if sys.executable:
        rest = env.get("PATH") or os.defpath
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), rest])
    return env


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


async def run_tests(
    command: str,
    cwd: Path,
    *,
    environ: Mapping[str, str],
    # A parameter, not the caller's asyncio.timeout: on timeout the result is still a
    # TestResult (timed_out) that the review shows, not an exception.
    timeout: float,  # noqa: ASYNC109
    output_limit: int = 60_000,
) -> TestResult:
    """Run `command` through the shell in `cwd` and report what happened; never raises for
    the command's own failures (they are the result)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        transport, collector = await loop.subprocess_shell(
            lambda: _Collector(output_limit),
            command,
            cwd=cwd,
            env=scrubbed_env(environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group, so a timeout can kill everything it started.
            start_new_session=True,
        )
    except OSError as exc:
        return TestResult(
            command=command,
            ok=False,
            duration=time.monotonic() - started,
            output_tail=f"The test command could not be started: {exc}",
        )
    timed_out = False
    try:
        try:
            async with asyncio.timeout(timeout):
                await collector.exited.wait()
        except TimeoutError:
            timed_out = True
        duration = time.monotonic() - started
    finally:
        # Kill the group whatever happened: on timeout (or cancellation) the command and
        # its children; after a normal exit, any process the tests left running, which
        # would otherwise live on and hold the output pipe open.
        _kill_group(transport.get_pid())
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                await collector.closed.wait()
        except TimeoutError:
            log.warning("a process started by %r left its process group; not waiting", command)
        finally:
            transport.close()
    output = collector.output()
    exit_code = None if timed_out else transport.get_returncode()
    if timed_out:
        output += (
            f"\n[timed out after {timeout:g}s; the test command and everything it started "
            "were killed]"
        )
    passed, failed, errors = pytest_counts(output) or (0, 0, 0)
    return TestResult(
        command=command,
        ok=exit_code == 0,
        passed=passed,
        failed=failed,
        errors=errors,
        exit_code=exit_code,
        timed_out=timed_out,
        duration=duration,
        output_tail=output,
    )
