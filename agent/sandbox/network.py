"""TASKMASTER_SANDBOX_NETWORK=on: a network of the sandbox's own, with outbound NAT.

The sandbox still gets a network namespace of its own; slirp4netns gives it a tap
device and user-mode NAT to the outside, with the host's loopback out of reach
(`--disable-host-loopback`): the code can download its dependencies but cannot talk
to TaskMaster's port, a database on 127.0.0.1 or the host's unix sockets. (A service
listening on the host's other addresses is as reachable as from any other machine.)

bwrap reports the sandbox's pid on `--info-fd` and waits on `--block-fd`; the network
is attached in between, so the command starts with it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator

RESOLV_CONF = b"nameserver 10.0.2.3\n"  # slirp4netns's DNS forwarder
ATTACH_SECONDS = 20.0


class UserModeNetwork:
    """One sandbox's network: the descriptors bwrap needs, then slirp4netns on it."""

    def __init__(self, slirp4netns: str, *, user_namespace: bool) -> None:
        self._program = slirp4netns
        self._user_namespace = user_namespace
        self._info_read, self._info_write = os.pipe()
        self._block_read, self._block_write = os.pipe()
        self._resolv_read, resolv_write = os.pipe()
        os.write(resolv_write, RESOLV_CONF)
        os.close(resolv_write)
        # Each closed once: a number closed twice may by then be another task's file.
        self._open = {
            self._info_read,
            self._info_write,
            self._block_read,
            self._block_write,
            self._resolv_read,
        }
        self._process: asyncio.subprocess.Process | None = None

    def bwrap_args(self) -> list[str]:
        return [
            "--info-fd",
            str(self._info_write),
            "--block-fd",
            str(self._block_read),
            "--ro-bind-data",
            str(self._resolv_read),
            "/etc/resolv.conf",
        ]

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self._info_write, self._block_read, self._resolv_read)

    async def started(self) -> None:
        """Attach the network to the sandbox bwrap just made, then let its command run."""
        for fd in self.pass_fds:  # bwrap has its copies
            self._close(fd)
        async with asyncio.timeout(ATTACH_SECONDS):
            self._open.discard(self._info_read)  # the reader owns it from here
            pid = await _child_pid(self._info_read)
            ready_read, ready_write = os.pipe()
            try:
                argv = [
                    self._program,
                    "--configure",
                    "--mtu=65520",
                    "--disable-host-loopback",
                    "--enable-sandbox",
                    "--enable-seccomp",
                    f"--ready-fd={ready_write}",
                ]
                if self._user_namespace:
                    argv.append(f"--userns-path=/proc/{pid}/ns/user")
                self._process = await asyncio.create_subprocess_exec(
                    *argv,
                    str(pid),
                    "tap0",
                    pass_fds=(ready_write,),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                os.close(ready_write)
                ready_write = -1
                async with _reader(ready_read) as ready:
                    ready_read = -1
                    if not await ready.read(1):
                        raise OSError("slirp4netns stopped before the network was up")
            finally:
                for fd in (ready_write, ready_read):
                    if fd >= 0:
                        os.close(fd)
        try:
            os.write(self._block_write, b"1")
        except BrokenPipeError:
            raise OSError("the sandbox stopped before its command started") from None
        finally:
            self._close(self._block_write)

    def _close(self, fd: int) -> None:
        if fd in self._open:
            self._open.discard(fd)
            os.close(fd)

    async def stop(self) -> None:
        for fd in list(self._open):
            self._close(fd)
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()


@contextlib.asynccontextmanager
async def _reader(fd: int) -> AsyncIterator[asyncio.StreamReader]:
    """A stream over the read end of a pipe; cancellable, and it closes `fd` after."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        yield reader
    finally:
        transport.close()


async def _child_pid(fd: int) -> int:
    """The `child-pid` of bwrap's info document, read from `fd` until it is complete."""
    data = b""
    async with _reader(fd) as info:
        while True:
            chunk = await info.read(4096)
            if not chunk:
                raise OSError("bwrap stopped before it made the sandbox")
            data += chunk
            try:
                return int(json.loads(data)["child-pid"])
            except ValueError:
                continue
