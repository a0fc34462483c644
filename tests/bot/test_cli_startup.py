"""`taskmaster --help` and a usage error answer without loading the engine."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ENGINE = ("langgraph", "langchain_core", "langsmith", "aiohttp", "pydantic", "agent", "slack_bolt")


async def loaded_by(home: Path, *argv: str) -> tuple[int, str, list[str]]:
    """Run `bot.cli.main(argv)` in a fresh interpreter: its exit code, output and the
    engine's top-level packages it imported."""
    code = (
        "import sys\n"
        "from bot.cli import main\n"
        "try:\n"
        f"    code = main({list(argv)!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({ENGINE!r}))\n"
        "print('LOADED', ','.join(loaded), file=sys.stderr)\n"
        "raise SystemExit(code)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKMASTER_")}
    env["TASKMASTER_DATA_DIR"] = str(home / "data")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        cwd=home,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    line = next(x for x in err.decode().splitlines() if x.startswith("LOADED"))
    return proc.returncode, out.decode(), [m for m in line.removeprefix("LOADED ").split(",") if m]


async def test_help_loads_none_of_the_engine(tmp_path: Path) -> None:
    code, out, loaded = await loaded_by(tmp_path, "--help")
    assert code == 0
    assert "run a ticket in the terminal" in out
    assert loaded == []


async def test_a_usage_error_loads_none_of_the_engine(tmp_path: Path) -> None:
    code, _, loaded = await loaded_by(tmp_path, "resume")  # the run id is missing
    assert code == 2
    assert loaded == []


async def test_a_command_that_needs_the_engine_loads_it(tmp_path: Path) -> None:
    code, out, loaded = await loaded_by(tmp_path, "runs", "--json")
    assert code == 0, out
    assert "agent" in loaded
