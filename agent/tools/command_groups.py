"""The process group of the repository command a run is running, kept on disk.

A TaskMaster process killed while a command runs cannot kill that command's group
(without the bubblewrap sandbox nothing else ends it), so the group is written beside
the workspace when the command starts and removed when it ends. Whoever continues the
run ends a group still recorded there first: the run's old test processes are gone
before its new ones start. The group's start time is kept with it, so a group id the
kernel has since given to an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def _record(workspace: Path) -> Path:
    return workspace.with_name(f".{workspace.name}.command")


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def remember(workspace: Path, pgid: int | None) -> None:
    """Note the running command's process group for the run in `workspace`."""
    started = _started(pgid) if pgid else None
    if pgid and started is not None:
        with contextlib.suppress(OSError):
            _record(workspace).write_text(f"{pgid} {started}\n")


def forget(workspace: Path) -> None:
    _record(workspace).unlink(missing_ok=True)


def end_left_behind(workspace: Path) -> bool:
    """Kill the command a killed process left running in `workspace`; True if there was one."""
    record = _record(workspace)
    try:
        pgid_text, started = record.read_text().split()
    except (OSError, ValueError):
        return False
    pgid = int(pgid_text)
    alive = _started(pgid) == started
    if alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    record.unlink(missing_ok=True)
    return alive
