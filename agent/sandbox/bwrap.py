"""The bubblewrap sandbox: the repository's code sees its workspace and nothing of ours.

Inside: the system and the toolchains on PATH read-only (`mounts.py`), the workspace
writable but its `.git` read-only (so nothing can plant a hook or move a ref that
TaskMaster would then push), a private /tmp and HOME, and new PID, IPC, UTS and
network namespaces: /proc shows only the sandbox, so no `/proc/<pid>/environ` of
TaskMaster, and there is no network at all (not even the host's 127.0.0.1) unless
TASKMASTER_SANDBOX_NETWORK=on. The environment is the allowlist of `environment.py`.

Run as root, bwrap keeps every capability for what it starts; so the command drops to
a user of its own (`setpriv`: a uid from `SANDBOX_UIDS` chosen by workspace, so two
runs never share a process count; no capabilities; bwrap sets no-new-privileges) after
`prlimit` set its limits, and the working tree is handed to that user first. Run as
anyone else, bwrap makes an unprivileged user namespace and the command keeps that user.

Nothing the repository controls takes part in starting the sandbox: bwrap, prlimit,
setpriv and env are run by absolute path, found once on TaskMaster's own PATH, with a
fixed environment; the repository's variables (`Environment:` in .taskmaster.md) are
set by `env -i` as the very last step, for the command alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import shutil
import stat
import subprocess
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.sandbox.base import Launch
from agent.sandbox.environment import interpreter_path, sandbox_environment
from agent.sandbox.limits import MIB, Limits
from agent.sandbox.mounts import etc_entries, system_binds, toolchain_folders
from agent.sandbox.network import UserModeNetwork
from agent.settings import SettingsError
from agent.tools.test_runner import run_command

SANDBOX_HOME = "/tmp/home"
# Uids the command runs as when TaskMaster is root: one per workspace, outside the
# range of real accounts, so each run has its own process count (RLIMIT_NPROC).
SANDBOX_UIDS = range(200_000, 300_000)
CHECK_SECONDS = 30.0
# The environment bwrap, prlimit and setpriv themselves run with.
FIXED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
PROGRAMS = ("bwrap", "prlimit", "setpriv", "env", "slirp4netns")
# bwrap learnt `--size` (to bound the private /tmp) in 0.8.0.
SIZED_TMPFS = (0, 8, 0)

OPT_OUT = "or set TASKMASTER_SANDBOX=off to run the repository's code without a sandbox"
MISSING = (
    "bubblewrap (bwrap) is not installed: install it (Debian and Ubuntu: "
    f"apt-get install bubblewrap; Fedora: dnf install bubblewrap), {OPT_OUT}"
)


@dataclass(frozen=True)
class BwrapSandbox:
    """A `Sandbox` made with bubblewrap, from the settings TASKMASTER_SANDBOX_*."""

    environ: Mapping[str, str]
    limits: Limits
    network: bool = False
    extra_mounts: tuple[Path, ...] = ()
    # Folders whose content must never be shown inside (HOME, data folder, working folder).
    protected: tuple[Path, ...] = ()

    @property
    def name(self) -> str:
        return "bwrap"

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def warnings(self) -> tuple[str, ...]:
        if self.network:
            return (
                "The repository's code could reach the internet while it ran "
                "(TASKMASTER_SANDBOX_NETWORK=on); not this machine's own services.",
            )
        return ()

    @functools.cached_property
    def _programs(self) -> dict[str, str]:
        """Absolute paths of the programs that start the sandbox, from TaskMaster's PATH
        (its absolute entries only: never the working folder)."""
        search = os.pathsep.join(
            entry
            for entry in self.environ.get("PATH", os.defpath).split(os.pathsep)
            if os.path.isabs(entry)
        )
        found = {}
        for program in PROGRAMS:
            path = shutil.which(program, path=search)
            if path is not None:
                found[program] = os.path.realpath(path)
        return found

    @functools.cached_property
    def _bwrap_version(self) -> tuple[int, ...]:
        try:
            out = subprocess.run(
                [self._program("bwrap"), "--version"],
                capture_output=True,
                text=True,
                timeout=10,
                env=FIXED_ENV,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return (0,)
        numbers = re.findall(r"\d+", out)
        return tuple(int(number) for number in numbers[:3]) or (0,)

    def _program(self, name: str) -> str:
        try:
            return self._programs[name]
        except KeyError:
            raise SettingsError(MISSING if name == "bwrap" else _missing_tool(name)) from None

    @functools.cached_property
    def _toolchains(self) -> list[Path]:
        return toolchain_folders(
            interpreter_path(self.environ), extra=self.extra_mounts, protected=self.protected
        )

    def launch(self, command: str, workspace: Path, env: Mapping[str, str]) -> Launch:
        workspace = Path(os.path.abspath(workspace))  # mount points must be absolute
        root = str(workspace)
        argv = [self._program("bwrap"), "--die-with-parent", "--new-session"]
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        argv += ["--hostname", "sandbox", "--unshare-net"]
        if self.as_root:
            # Only what it takes to chdir into a workspace the sandbox's user owns (a
            # pytest tmp folder is 0700) and to become that user; setpriv drops them all
            # before the command runs.
            argv += ["--cap-drop", "ALL"]
            for capability in ("CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
                argv += ["--cap-add", capability]
        else:
            argv += ["--unshare-user"]
        argv += system_binds()
        argv += ["--proc", "/proc", "--dev", "/dev"]
        if self._bwrap_version >= SIZED_TMPFS:  # /tmp is memory: bound it like memory
            argv += ["--size", str(self.limits.memory_mb * MIB)]
        argv += ["--perms", "1777", "--tmpfs", "/tmp", "--perms", "0777", "--dir", SANDBOX_HOME]
        etc = etc_entries()
        toolchains = [str(folder) for folder in self._toolchains]
        # bwrap would make the folders above each mount point readable by root only.
        for folder in _ancestors([*etc, *toolchains, root]):
            argv += ["--perms", "0755", "--dir", folder]
        for entry in etc:
            argv += ["--ro-bind-try", entry, entry]
        for folder in toolchains:
            argv += ["--ro-bind", folder, folder]
        argv += ["--bind", root, root]
        git_dir = workspace / ".git"
        if git_dir.exists():
            argv += ["--ro-bind", str(git_dir), str(git_dir)]
        network = None
        if self.network:
            network = UserModeNetwork(self._program("slirp4netns"), user_namespace=not self.as_root)
            argv += network.bwrap_args()
        argv += ["--clearenv", "--chdir", root, "--"]
        argv += [self._program("prlimit"), *self.limits.prlimit_options()]
        if self.as_root:
            uid = str(sandbox_uid(workspace))
            argv += [
                self._program("setpriv"),
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
            ]
        variables = sandbox_environment(self.environ, env, home=SANDBOX_HOME)
        variables.setdefault("USER", "sandbox")
        variables.setdefault("LOGNAME", "sandbox")
        argv += [self._program("env"), "-i"]
        argv += [f"{name}={value}" for name, value in variables.items()]
        argv += ["/bin/sh", "-c", command]
        return Launch(
            argv=argv,
            env=dict(FIXED_ENV),
            pass_fds=network.pass_fds if network else (),
            companion=network,
        )

    async def prepare(self, workspace: Path) -> None:
        # As anyone but root, the command runs as TaskMaster's own user in a data
        # folder only that user can enter (0700): nothing to hand over or strip.
        if self.as_root:
            await asyncio.to_thread(_settle, workspace, sandbox_uid(workspace))

    async def finish(self, workspace: Path) -> None:
        await self.prepare(workspace)

    def explain_failure(self, output: str, exit_code: int | None) -> str:
        return self.limits.explain(output, exit_code)

    async def check(self) -> None:
        needed = ["bwrap", "prlimit", "env"]
        needed += ["setpriv"] if self.as_root else []
        needed += ["slirp4netns"] if self.network else []
        for program in needed:
            self._program(program)
        with tempfile.TemporaryDirectory(prefix="taskmaster-sandbox-check-") as scratch:
            workspace = Path(scratch)
            (workspace / ".git").mkdir()
            result = await run_command("true", workspace, sandbox=self, timeout=CHECK_SECONDS)
        if not result.ok:
            lines = result.output_tail.strip().splitlines()
            problem = lines[0] if lines else f"exit {result.exit_code}"
            raise SettingsError(
                f"bubblewrap cannot make its sandbox on this host ({problem}); allow "
                "unprivileged user namespaces (see README, 'The sandbox'), " + OPT_OUT
            )


def _ancestors(paths: list[str]) -> list[str]:
    """Every folder above `paths` but / and /tmp (mounted already), shallowest first."""
    folders = {str(parent) for path in paths for parent in Path(path).parents}
    folders -= {"/", "/tmp"}
    return sorted(folders, key=lambda folder: (folder.count("/"), folder))


def _missing_tool(program: str) -> str:
    if program == "slirp4netns":
        return (
            "slirp4netns is not installed: TASKMASTER_SANDBOX_NETWORK=on needs it "
            "(Debian and Ubuntu: apt-get install slirp4netns), or set it to off"
        )
    return f"`{program}` (from util-linux) is not installed; the sandbox needs it, {OPT_OUT}"


def sandbox_uid(workspace: Path) -> int:
    """The uid a workspace's commands run as when TaskMaster is root: fixed per workspace."""
    checksum = zlib.crc32(os.path.abspath(workspace).encode())
    return SANDBOX_UIDS.start + checksum % len(SANDBOX_UIDS)


def _settle(workspace: Path, uid: int) -> None:
    """Before and after each command: every entry of the working tree owned by `uid`, and
    none set-user-id or set-group-id (the host's filesystem would honour the bit). `.git`
    is left alone: it stays TaskMaster's, read-only inside."""
    special = stat.S_ISUID | stat.S_ISGID

    def settle(path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            info = os.lstat(path)
            if info.st_uid != uid:
                os.lchown(path, uid, uid)
            if info.st_mode & special and not stat.S_ISLNK(info.st_mode):
                os.chmod(path, stat.S_IMODE(info.st_mode) & ~special)

    settle(str(workspace))
    for folder, subfolders, files in os.walk(workspace):
        if folder == str(workspace):
            subfolders[:] = [name for name in subfolders if name != ".git"]
        for name in (*subfolders, *files):
            settle(os.path.join(folder, name))
