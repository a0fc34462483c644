"""Running the `taskmaster` command as a person does: its own process, no terminal."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


async def spawn_cli(home: Path, env: Mapping[str, str], *args: str) -> asyncio.subprocess.Process:
    """`python -m bot.cli args...` in `home`, in its own process group (so a test can
    kill it and everything it started)."""
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
