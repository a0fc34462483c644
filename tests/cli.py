"""Running the `taskmaster` command as a person does: its own process, no terminal.

Each process is forked from one that imported the engine already (`tests/preloaded.py`):
it runs the real `bot.cli` as `__main__` in its own pid and process group, so a test
reads its lines, kills it and gets its exit code as with `python -m bot.cli`, without
paying a second or more of imports each time. TASKMASTER_TESTS_EXEC=1 starts each one
with `python -m bot.cli` instead, as does an environment with its own PYTHON* settings
(the tests of start-up itself start their own).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PRELOADED = Path(__file__).with_name("preloaded.py")
FRESH = os.environ.get("TASKMASTER_TESTS_EXEC") == "1"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class _Server:
    """This pytest process's `tests/preloaded.py`, started at its first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._folder = ""

    @property
    def path(self) -> str:
        return os.path.join(self._folder, "socket")

    def start(self) -> str:
        with self._lock:
            if self._proc is not None and self._proc.poll() is not None:
                self.stop()  # it died: start another
            if self._proc is None:
                self._folder = tempfile.mkdtemp(prefix="tm-preloaded-")
                self._proc = subprocess.Popen(
                    [sys.executable, str(PRELOADED), self.path],
                    stdin=subprocess.PIPE,  # its end is the server's: EOF when we are gone
                    stdout=subprocess.PIPE,
                    start_new_session=True,
                )
                assert self._proc.stdout is not None
                ready = self._proc.stdout.readline()
                assert ready == b"ready\n", "tests/preloaded.py did not start (see its stderr)"
            return self.path

    def stop(self) -> None:
        if self._proc is not None:
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            shutil.rmtree(self._folder, ignore_errors=True)
            self._proc = None


_SERVER = _Server()
atexit.register(_SERVER.stop)


def _stream(fd: int) -> asyncio.StreamReader:
    """A StreamReader over the read end of a pipe (a plain fd: nothing left to warn about
    if a test never reads it to its end)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    os.set_blocking(fd, False)

    def ready() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            reader.feed_data(data)
        else:
            loop.remove_reader(fd)
            os.close(fd)
            reader.feed_eof()

    loop.add_reader(fd, ready)
    return reader


class CliProcess:
    """A forked `bot.cli`: what the tests use of `asyncio.subprocess.Process`."""

    def __init__(
        self, pid: int, stdout: int, stderr: int, status: socket.socket, data: bytes
    ) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdout: asyncio.StreamReader | None = _stream(stdout)
        self.stderr: asyncio.StreamReader | None = _stream(stderr)
        self._exit = asyncio.ensure_future(self._wait_for_status(status, data))

    async def _wait_for_status(self, status: socket.socket, data: bytes) -> int:
        """The exit code the server reports (`data`: what came after the pid line)."""
        try:
            loop = asyncio.get_running_loop()
            while not data.endswith(b"\n"):
                more = await loop.sock_recv(status, 4096)
                if not more:
                    raise RuntimeError("the preloaded server went away")
                data += more
        finally:
            status.close()
        self.returncode = os.waitstatus_to_exitcode(json.loads(data)["status"])
        return self.returncode

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def communicate(self) -> tuple[bytes, bytes]:
        assert self.stdout is not None and self.stderr is not None
        out, err = await asyncio.gather(self.stdout.read(), self.stderr.read())
        await self.wait()
        return out, err

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


async def _fork_cli(home: Path, env: Mapping[str, str], args: tuple[str, ...]) -> CliProcess:
    path = await asyncio.to_thread(_SERVER.start)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        conn.connect(path)
        request = {"args": list(args), "cwd": str(home), "env": dict(env)}
        message = json.dumps(request).encode() + b"\n"
        socket.send_fds(conn, [message], [devnull, out_write, err_write])
        conn.setblocking(False)
        loop = asyncio.get_running_loop()
        data = b""
        while b"\n" not in data:
            more = await loop.sock_recv(conn, 4096)
            if not more:
                raise RuntimeError("the preloaded server went away")
            data += more
    except BaseException:
        conn.close()
        os.close(out_read)
        os.close(err_read)
        raise
    finally:
        for fd in (devnull, out_write, err_write):
            os.close(fd)
    line, rest = data.split(b"\n", 1)
    return CliProcess(json.loads(line)["pid"], out_read, err_read, conn, rest)


async def spawn_cli(home: Path, env: Mapping[str, str], *args: str) -> CliProcess:
    """`python -m bot.cli args...` in `home`, in its own process group (so a test can
    kill it and everything it started)."""
    # Python's own settings take effect only when an interpreter starts.
    python = {k: v for k, v in env.items() if k.startswith("PYTHON")}
    if FRESH or python != {k: v for k, v in os.environ.items() if k.startswith("PYTHON")}:
        return await _exec_cli(home, env, args)  # type: ignore[return-value]
    return await _fork_cli(home, env, args)


async def _exec_cli(
    home: Path, env: Mapping[str, str], args: tuple[str, ...]
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=home,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )


async def run_cli(home: Path, env: Mapping[str, str], *args: str) -> Result:
    proc = await spawn_cli(home, env, *args)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())
