"""What the repository's code can reach from inside bubblewrap: no secret, no network,
nothing outside its workspace, and limits it cannot pass.

Every test runs real commands in the real sandbox; the hostile ones are written as a
compromised test suite would write them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from agent.sandbox.mounts import toolchain_folders
from agent.tools import files
from agent.tools.test_runner import run_command
from agent.tools.workspace import ToolError, Workspace
from tests.agent.sandbox.conftest import Host
from tests.processes import all_gone, processes_with

# Looks everywhere a stolen secret could be: the environment, every process's
# environment and command line, the host folders named on its command line, and the
# whole filesystem it can see (but the system's and the toolchains' read-only software).
# It is given the canaries reversed, so its own command line does not hold them.
SCANNER = r"""
import os, sys
canaries = [reversed_canary[::-1] for reversed_canary in sys.argv[1].split(",")]
marker = sys.argv[2]
skip = {"/proc", "/sys", "/dev", "/usr", *sys.argv[3].split(",")}
targets = sys.argv[4:]
found, saw_marker, scanned = set(), False, 0

def look(text, where):
    global saw_marker
    for canary in canaries:
        if canary in text:
            found.add(f"{canary} in {where}")
    if marker in text:
        saw_marker = True

def read(path):
    global scanned
    try:
        if os.path.getsize(path) > 2_000_000:
            return
        with open(path, "rb") as f:
            look(f.read().decode("latin-1"), path)
        scanned += 1
    except OSError:
        pass

look("\n".join(f"{k}={v}" for k, v in os.environ.items()), "environ")
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for name in ("environ", "cmdline"):
            read(f"/proc/{pid}/{name}")
for target in targets:
    for folder, dirs, files in os.walk(target):
        for name in files:
            read(os.path.join(folder, name))
    read(target)
    read(os.path.join(target, "..", "..", ".env"))
for folder, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
    for name in files:
        read(os.path.join(folder, name))
print("FOUND:", sorted(found))
print("SAW MARKER:", saw_marker)
print("SCANNED:", scanned)
"""


async def test_a_hostile_test_command_finds_no_secret_anywhere(
    host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canaries = {
        "SLACK_SIGNING_SECRET": "canary-signing-7f3a",
        "SLACK_BOT_TOKEN": "canary-bot-token-91c2",
        "DATABASE_URL": "postgresql://app:canary-dbpass-55d1@db/app",
        "REDIS_PASSWORD": "canary-redis-0b7e",
        "GH_PAT": "canary-pat-4e21",
        "BILLING_DSN": "canary-dsn-c3f0",
    }
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".git-credentials").write_text("https://x:canary-home-9a8b@github.com\n")
    monkeypatch.setenv("HOME", str(home))
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("SLACK_APP_TOKEN=canary-dotenv-2d6f\n")
    monkeypatch.chdir(project)
    host.data.joinpath("taskmaster.db").write_text("review ids... canary-database-8c1d\n")
    other = host.data / "workspaces" / "run-0"
    other.mkdir(parents=True)
    (other / "secret.txt").write_text("canary-other-run-6e4a\n")
    host.environ = dict(os.environ)
    marker = f"visible-{uuid.uuid4().hex}"
    (host.workspace / "marker.txt").write_text(marker)
    (host.workspace / "scan.py").write_text(SCANNER)
    values = [
        *canaries.values(),
        "canary-home-9a8b",
        "canary-dotenv-2d6f",
        "canary-database-8c1d",
        "canary-other-run-6e4a",
    ]
    software = toolchain_folders(os.environ["PATH"], protected=[home, host.data, project])
    targets = [str(home), str(project), str(host.data), str(other), str(host.workspace / "..")]
    command = " ".join(
        [
            "python scan.py",
            ",".join(value[::-1] for value in values),
            marker,
            ",".join(str(folder) for folder in software),
            *targets,
        ]
    )
    result = await host.run(command, seconds=120)

    assert result.ok, result.output_tail
    assert "FOUND: []" in result.output_tail
    assert "SAW MARKER: True" in result.output_tail  # it could read what it should
    for value in values:
        assert value not in result.output_tail


@contextlib.asynccontextmanager
async def _answering(address: str) -> AsyncIterator[int]:
    """An HTTP server on `address` that answers, and its port."""

    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="reached")

    app = web.Application()
    app.router.add_get("/", hello)
    server = TestServer(app, host=address)
    await server.start_server()
    try:
        yield server.port or 0
    finally:
        await server.close()


@pytest.fixture
async def listening() -> AsyncIterator[int]:
    """A port on 127.0.0.1 that answers, as TaskMaster's own HTTP server does."""
    async with _answering("127.0.0.1") as port:
        yield port


CONNECT = (
    'python -c \'import socket; socket.create_connection(("127.0.0.1", {port}), 5); '
    'print("connected")\''
)


async def test_the_network_is_off(host: Host, listening: int) -> None:
    reached = await host.run(CONNECT.format(port=listening))
    other = await host.run(CONNECT.format(port=1))
    lookup = await host.run("python -c 'import socket; socket.getaddrinfo(\"pypi.org\", 443)'")

    assert not reached.ok
    assert "connected" not in reached.output_tail
    assert "ConnectionRefusedError" in reached.output_tail or "OSError" in reached.output_tail
    assert not other.ok
    assert not lookup.ok


def _own_address() -> str:
    """This machine's address on its default route (a UDP "connect" sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routed, never reached
        return str(probe.getsockname()[0])


@pytest.fixture
async def listening_everywhere() -> AsyncIterator[int]:
    """A port on every address of this machine, as a service outside TaskMaster's is."""
    async with _answering("0.0.0.0") as port:
        yield port


async def test_network_on_reaches_out_but_never_the_hosts_loopback(
    host: Host, listening: int, listening_everywhere: int
) -> None:
    """With the network on, the sandbox still has its own namespace: it reaches other
    machines' addresses (here this machine's own, from outside its loopback) through
    user-mode NAT, and never 127.0.0.1 of the host, where TaskMaster and databases are."""
    on = {"TASKMASTER_SANDBOX_NETWORK": "on"}
    outward = CONNECT.format(port=listening_everywhere).replace("127.0.0.1", _own_address())
    reached = await host.run(outward, **on)
    loopback = await host.run(CONNECT.format(port=listening), **on)
    gateway = await host.run(CONNECT.format(port=listening).replace("127.0.0.1", "10.0.2.2"), **on)
    assert reached.ok, reached.output_tail
    assert "connected" in reached.output_tail
    assert not loopback.ok and "connected" not in loopback.output_tail
    assert not gateway.ok and "connected" not in gateway.output_tail
    assert host.sandbox(**on).warnings() == (
        "The repository's code could reach the internet while it ran "
        "(TASKMASTER_SANDBOX_NETWORK=on); not this machine's own services.",
    )


async def test_only_the_workspace_and_tmp_are_writable(host: Host, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    venv_file = Path(sys.prefix) / "planted.txt"
    command = "; ".join(
        [
            "echo ok > in-workspace.txt && echo workspace-writable",
            "echo ok > /tmp/scratch && echo tmp-writable",
            f"echo bad > {outside} || echo outside-refused",
            f"echo bad > {venv_file} || echo toolchain-refused",
            "echo bad > .git/planted || echo git-refused",
            "echo bad > /usr/planted || echo usr-refused",
            "test -w $HOME && echo home-writable",
            "true",
        ]
    )
    result = await host.run(command)
    assert result.ok, result.output_tail
    for line in (
        "workspace-writable",
        "tmp-writable",
        "outside-refused",
        "toolchain-refused",
        "git-refused",
        "usr-refused",
        "home-writable",
    ):
        assert line in result.output_tail
    assert (host.workspace / "in-workspace.txt").read_text() == "ok\n"
    assert not outside.exists()
    assert not venv_file.exists()
    assert not (host.workspace / ".git" / "planted").exists()


async def test_proc_shows_only_the_sandbox(host: Host) -> None:
    result = await host.run("ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '")
    assert result.ok, result.output_tail
    count = int(result.output_tail.splitlines()[0])
    assert count < 10  # bwrap's init, the shell, ls, grep: not the host's processes
    assert str(os.getpid()) not in result.output_tail.splitlines()


async def test_a_fork_bomb_is_stopped_and_reported(host: Host) -> None:
    marker = f"bomb-{uuid.uuid4().hex}"
    command = f"python -c 'import os; [os.fork() for _ in iter(int, 1)]' {marker}"
    result = await host.run(command, seconds=10, TASKMASTER_SANDBOX_PROCESSES="64")
    assert not result.ok
    assert result.limit == (
        "the tests tried to run more than 64 processes at once (TASKMASTER_SANDBOX_PROCESSES)"
    )
    assert result.limit in result.headline
    assert await all_gone(marker)


async def test_a_4_gib_allocation_is_refused_and_reported(host: Host) -> None:
    result = await host.run("python -c 'data = bytearray(4 * 1024**3)'")
    assert not result.ok
    assert "MemoryError" in result.output_tail
    assert result.limit == (
        "the tests used more than 2 GiB of memory in one process (TASKMASTER_SANDBOX_MEMORY_MB)"
    )


async def test_a_file_past_the_size_limit_is_refused_and_reported(host: Host) -> None:
    result = await host.run("head -c 20000000 /dev/zero > big.bin", TASKMASTER_SANDBOX_FILE_MB="10")
    assert not result.ok
    assert result.limit == (
        "the tests tried to write a file larger than 10 MiB (TASKMASTER_SANDBOX_FILE_MB)"
    )
    assert (host.workspace / "big.bin").stat().st_size <= 10 * 1024 * 1024


async def test_a_package_at_the_root_runs_from_a_virtual_environment_under_tmp(
    tmp_path: Path, host: Host
) -> None:
    """A venv under /tmp (its pytest lent by TaskMaster's own environment through a .pth
    file, as no index is reachable here) is found on PATH and mounted read-only."""
    venv = tmp_path / "venv"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "venv", "--without-pip", str(venv)
    )
    assert await process.wait() == 0
    site = next((venv / "lib").glob("python3*/site-packages"))
    lent = next(
        Path(p) for p in sys.path if p.endswith("site-packages") and "pytest" in os.listdir(p)
    )
    (site / "lend.pth").write_text(f"{lent}\n")
    (host.workspace / "pyproject.toml").write_text('[project]\nname = "calc"\nversion = "0"\n')
    (host.workspace / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (host.workspace / "test_calc.py").write_text(
        "import sys\nfrom calc import add\n\n\ndef test_add():\n"
        f"    assert sys.prefix == {str(venv)!r}\n    assert add(2, 3) == 5\n"
    )
    host.environ = {**host.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    # The venv's python must come first: TaskMaster's own interpreter is put first only
    # for `python`, so the command names the venv's.
    result = await host.run(f"{venv / 'bin' / 'python'} -m pytest -q -p no:cacheprovider")
    assert result.ok, result.output_tail
    assert result.passed == 1


PRELOAD = r"""
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen("HOST_MARK", "a");
    if (f) { fputs("loaded\n", f); fclose(f); }
    f = fopen("preloaded-inside", "a");
    if (f) { fputs("loaded\n", f); fclose(f); }
}
"""

PLANTED = '#!/bin/sh\ntouch {mark}\nexec /usr/bin/{name} "$@"\n'


async def test_the_repositorys_variables_never_reach_what_starts_the_sandbox(
    host: Host, tmp_path: Path
) -> None:
    """`Environment: PATH=.:...` with planted programs, and `LD_PRELOAD=./x.so`: only
    the sandboxed command sees them; bwrap, prlimit, setpriv and env are TaskMaster's."""
    mark = tmp_path / "escaped"
    for name in ("bwrap", "prlimit", "setpriv", "env", "sh"):
        planted = host.workspace / name
        planted.write_text(PLANTED.format(mark=f"{mark}-{name}", name=name))
        planted.chmod(0o755)
    source = tmp_path / "planted.c"
    source.write_text(PRELOAD.replace("HOST_MARK", str(mark) + "-preload"))
    compiler = await asyncio.create_subprocess_exec(
        "gcc", "-shared", "-fPIC", "-o", str(host.workspace / "x.so"), str(source)
    )
    assert await compiler.wait() == 0
    sandbox = host.sandbox()
    result = await run_command(
        "cat /proc/self/status | grep -E '^(Uid|CapEff)'; echo done",
        host.workspace,
        sandbox=sandbox,
        timeout=60,
        env={"PATH": ".:/usr/bin:/bin", "LD_PRELOAD": "./x.so"},
    )
    assert result.ok, result.output_tail
    assert "CapEff:\t0000000000000000" in result.output_tail
    assert not list(tmp_path.glob("escaped-*"))  # nothing ran outside the sandbox
    assert (host.workspace / "preloaded-inside").exists()  # the command itself had it


async def test_a_fifo_left_by_the_tests_stalls_no_tool(host: Host) -> None:
    result = await host.run("mkfifo build.log && echo made")
    assert result.ok, result.output_tail
    workspace = Workspace(host.workspace)
    async with asyncio.timeout(10):
        searched = await files.search_code(workspace, "anything", ".")
        listed = await files.list_files(workspace, ".")
        with pytest.raises(ToolError, match="not a regular file"):
            await files.read_file(workspace, "build.log")
    assert searched == "no matches for 'anything' in '.'"
    assert "build.log (not a regular file)" in listed


@pytest.mark.skipif(os.geteuid() != 0, reason="as root, each workspace gets its own uid")
async def test_runs_as_root_never_share_a_process_count(tmp_path: Path) -> None:
    """One run holding 50 processes leaves another run, with the same limit of 64, its
    full count: as root each workspace's commands run as a uid of their own."""
    marker = f"holder_{uuid.uuid4().hex}"
    first = Host(tmp_path / "a", tmp_path / "a" / "workspaces" / "one", dict(os.environ))
    second = Host(tmp_path / "b", tmp_path / "b" / "workspaces" / "two", dict(os.environ))
    for host in (first, second):
        host.workspace.mkdir(parents=True)
    holding = asyncio.create_task(
        first.run(
            f"for i in $(seq 50); do env {marker}=1 sleep 60 & done; wait",
            TASKMASTER_SANDBOX_PROCESSES="64",
        )
    )
    try:
        async with asyncio.timeout(30):
            while len(processes_with(marker)) < 50:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        result = await second.run(
            "for i in $(seq 40); do sleep 0.2 & done; wait && echo all-started",
            TASKMASTER_SANDBOX_PROCESSES="64",
        )
        assert result.ok, result.output_tail
        assert "all-started" in result.output_tail
    finally:
        holding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await holding
    assert await all_gone(marker)


async def test_set_user_id_files_do_not_survive_the_command(host: Host) -> None:
    result = await host.run("cp /usr/bin/id myid && chmod 6755 myid && echo planted")
    assert result.ok, result.output_tail
    mode = (host.workspace / "myid").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID)
