"""Finding a test's processes by a marker on their command line, wherever they run.

A sandboxed process has its own PID namespace, so the pid it could report means
nothing outside; a unique marker in its arguments or environment finds it in the
host's /proc.
"""

from __future__ import annotations

import asyncio
from pathlib import Path


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line or environment holds `marker`
    (anywhere on the host)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        for part in ("cmdline", "environ"):
            try:
                if marker.encode() in (entry / part).read_bytes():
                    found.append(int(entry.name))
                    break
            except OSError:
                continue
    return found


async def all_gone(marker: str, within: float = 10.0) -> bool:
    """Whether every process holding `marker` has exited, waiting up to `within` seconds."""
    async with asyncio.timeout(within):
        # Polling the kernel's process table: there is no event to wait on.
        while processes_with(marker):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return True
