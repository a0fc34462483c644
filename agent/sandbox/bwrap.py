"""The bubblewrap sandbox: the repository's code sees its workspace and nothing of ours.

Inside: the system and the toolchains on PATH read-only (`mounts.py`), the workspace
writable but its `.git` read-only (so nothing can plant a hook or move a ref that
TaskMaster would then push), a private /tmp and HOME, and new PID, IPC, UTS and
network namespaces: /proc shows only the sandbox, so no `/proc/<pid>/environ` of
TaskMaster, and there is no network at all (not even the host's 127.0.0.1) unless
TASKMASTER_SANDBOX_NETWORK=on. The environment is the allowlist of `environment.py`.

Run as root, bwrap keeps every capability for what it starts; so the command drops to
`nobody` (with `setpriv`, no capabilities, no new privileges) after `prlimit` set its
limits, and the workspace's files are handed to `nobody` first. Run as anyone else,
bwrap makes an unprivileged user namespace and the command keeps that user.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.sandbox.base import Launch
from agent.sandbox.environment import interpreter_path, sandbox_environment
from agent.sandbox.limits import Limits
from agent.sandbox.mounts import etc_entries, system_binds, toolchain_folders
from agent.settings import SettingsError

SANDBOX_HOME = "/tmp/home"
NOBODY = 65534
CHECK_SECONDS = 30.0

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
                "The repository's code could reach the network while it ran "
                "(TASKMASTER_SANDBOX_NETWORK=on).",
            )
        return ()

    @functools.cached_property
    def _toolchains(self) -> list[Path]:
        return toolchain_folders(
            interpreter_path(self.environ), extra=self.extra_mounts, protected=self.protected
        )

    def launch(self, command: str, workspace: Path, env: Mapping[str, str]) -> Launch:
        workspace = Path(os.path.abspath(workspace))  # mount points must be absolute
        root = str(workspace)
        argv = ["bwrap", "--die-with-parent", "--new-session"]
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        argv += ["--hostname", "sandbox"]
        if not self.network:
            argv += ["--unshare-net"]
        if self.as_root:
            # Only what it takes to enter nobody's workspace and become nobody; setpriv
            # drops all of them before the command runs.
            argv += ["--cap-drop", "ALL"]
            for capability in ("CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
                argv += ["--cap-add", capability]
        else:
            argv += ["--unshare-user"]
        argv += system_binds()
        argv += ["--proc", "/proc", "--dev", "/dev"]
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
        argv += ["--chdir", root, "--"]
        argv += self.limits.prlimit_argv()
        if self.as_root:
            argv += [
                "setpriv",
                f"--reuid={NOBODY}",
                f"--regid={NOBODY}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
            ]
        argv += ["/bin/sh", "-c", command]
        return Launch(argv=argv, env=sandbox_environment(self.environ, env, home=SANDBOX_HOME))

    async def prepare(self, workspace: Path) -> None:
        if self.as_root:
            await asyncio.to_thread(_hand_to_nobody, workspace)

    def explain_failure(self, output: str, exit_code: int | None) -> str:
        return self.limits.explain(output, exit_code)

    async def check(self) -> None:
        needed = ["bwrap", "prlimit", *(["setpriv"] if self.as_root else [])]
        for program in needed:
            if shutil.which(program, path=self.environ.get("PATH")) is None:
                raise SettingsError(MISSING if program == "bwrap" else _missing_tool(program))
        with tempfile.TemporaryDirectory(prefix="taskmaster-sandbox-check-") as scratch:
            workspace = Path(scratch)
            (workspace / ".git").mkdir()
            await self.prepare(workspace)
            problem = await _try(self.launch("true", workspace, {}), workspace)
        if problem is not None:
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
    return f"`{program}` (from util-linux) is not installed; the sandbox needs it, {OPT_OUT}"


async def _try(launch: Launch, workspace: Path) -> str | None:
    """Run `launch`; None if it worked, else the first line it printed."""
    proc = await asyncio.create_subprocess_exec(
        *launch.argv,
        cwd=workspace,
        env=launch.env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            out, _ = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return f"it did not start within {CHECK_SECONDS:g}s"
    if proc.returncode == 0:
        return None
    lines = out.decode(errors="replace").strip().splitlines()
    return lines[0] if lines else f"exit {proc.returncode}"


def _hand_to_nobody(workspace: Path) -> None:
    """Give the working tree (not `.git`, which stays read-only inside) to `nobody`."""

    def own(path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(path).st_uid != NOBODY:
                os.lchown(path, NOBODY, NOBODY)

    own(str(workspace))
    for folder, subfolders, files in os.walk(workspace):
        if folder == str(workspace):
            subfolders[:] = [name for name in subfolders if name != ".git"]
        for name in (*subfolders, *files):
            own(os.path.join(folder, name))
