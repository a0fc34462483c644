"""A process that has imported the engine once and forks a `python -m bot.cli` per request.

Each CLI process of the suite would otherwise spend a second or more importing the
engine before it does anything (most of the suite's time on a 2-core machine). Here a
child is forked from a process that imported it already: a real process with its own
pid, session and pipes, running the real `bot.cli` as `__main__` with the request's
arguments, folder and environment, so a test can read its lines, SIGKILL its process
group and wait for its exit code exactly as with `python -m bot.cli`.

Run as a script by `tests/cli.py` (one per pytest process); it talks over the UNIX
socket named by its only argument. A request is one JSON line (argv, cwd, env) with
the child's stdin, stdout and stderr attached; the answers are `{"pid": N}` once
forked, then `{"status": S}` (a wait status) once it ended.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import selectors
import socket
import sys
from typing import Any

# What run, resume, serve and worker import (the rest is imported by the child as usual).
PRELOAD = (
    "bot.invocation",
    "bot.terminal",
    "agent.demo",
    "agent.storage",
    "agent.settings",
    "agent.runs.runtime",
    "agent.runs.checkpoints",
    "agent.integrations.registry",
    "agent.integrations.scripted_model",
    "langgraph.checkpoint.sqlite.aio",
    "dotenv",
    "bot.slack.server",
    "bot.worker",
)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    while not data.endswith(b"\n"):
        more = conn.recv(1 << 20)
        if not more:
            raise EOFError("the request ended early")
        data += more
    return json.loads(data), fds


def serve(path: str) -> tuple[dict[str, Any], list[int]]:
    """Fork a child per request until the socket's peer goes; returns only in a child."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)  # EOF: the tests are gone
    waiting: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, connection)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sys.stdin:
                if not os.read(0, 4096):
                    os.unlink(path)
                    with contextlib.suppress(OSError):
                        os.rmdir(os.path.dirname(path))
                    sys.exit(0)
            elif key.fileobj is listener:
                conn, _ = listener.accept()
                request, fds = _receive(conn)
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    for pidfd, (_, other) in waiting.items():
                        os.close(pidfd)
                        other.close()
                    conn.close()
                    return request, fds
                for fd in fds:
                    os.close(fd)
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                pidfd = os.pidfd_open(pid)
                waiting[pidfd] = (pid, conn)
                selector.register(pidfd, selectors.EVENT_READ)
            else:
                pidfd = int(key.fd)
                pid, conn = waiting.pop(pidfd)
                selector.unregister(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                with contextlib.suppress(OSError):  # the test stopped listening
                    conn.sendall(json.dumps({"status": status}).encode() + b"\n")
                conn.close()


def _text(fd: int, mode: str, **options: Any) -> io.TextIOWrapper:
    # The process's standard stream: open for as long as the process lives.
    return io.TextIOWrapper(open(fd, mode, closefd=False), **options)


def become(request: dict[str, Any], fds: list[int]) -> None:
    """Turn this forked child into `python -m bot.cli ARGS` started in the request's folder."""
    os.setsid()  # its own process group, as `start_new_session=True`
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    args = list(request["args"])
    sys.orig_argv = [sys.executable, "-m", "bot.cli", *args]
    sys.argv = ["-m", *args]  # runpy puts the module's file first, as `-m` does
    sys.path[0] = os.getcwd()
    # Standard streams as a fresh interpreter makes them for these files.
    encoding, errors = sys.stdout.encoding, sys.stdout.errors
    sys.stdin = _text(0, "rb", encoding=encoding)
    sys.stdout = _text(1, "wb", encoding=encoding, errors=errors, line_buffering=os.isatty(1))
    sys.stderr = _text(2, "wb", encoding=encoding, errors="backslashreplace", line_buffering=True)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def main() -> None:
    # This file's folder is no place to import from (tests/agent would shadow agent);
    # the child puts its own folder there, as `python -m` does.
    sys.path[0] = os.getcwd()
    for name in PRELOAD:
        __import__(name)
    request, fds = serve(sys.argv[1])
    become(request, fds)
    sys.modules.pop("bot.cli", None)  # `-m` runs it as __main__ only, as here
    runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
