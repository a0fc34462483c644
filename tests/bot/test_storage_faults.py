"""Storage faults, made for real: a read-only mount, a database locked by another
process, a full tmpfs. Each command says what is wrong in one line and exits 75
within a bound; once the fault is gone the run goes on and delivers once.

The mounts need root (the suite's machines run as root); elsewhere they are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.bot.conftest import StartBot
from tests.cli import run_cli
from tests.kills import Home, clean_env, reach_review

EXIT_STORAGE = 75

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path, clean_env())


@contextlib.contextmanager
def mounted(*args: str, target: Path) -> Iterator[None]:
    subprocess.run(["mount", *args], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=True)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    with mounted("--bind", str(folder), str(folder), target=folder):
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield


async def _one_line_failure(home: Home, *args: str, within: float) -> str:
    started = time.monotonic()
    result = await home(*args)
    took = time.monotonic() - started
    assert result.code == EXIT_STORAGE, result.out + result.err
    assert took < within, took
    assert "Traceback" not in result.err and result.err.count("\n") == 1, result.err
    return result.err


async def _delivers(home: Home, run_id: str) -> None:
    approved = await home("resume", run_id, "approve", "--by", "ana")
    assert approved.code == 0, approved.err
    assert (await home.runs())[0]["status"] == "done"
    assert await home.effects() == (1, 1, 1)


async def test_a_read_only_data_folder_is_said_and_the_run_goes_on_after(home: Home) -> None:
    run_id = await reach_review(home)
    with read_only(home.data):
        # Read-only commands too: they open the database.
        listed = await run_cli(home.path, home.env, "runs")
        assert listed.code == EXIT_STORAGE and "is read-only" in listed.err
        said = await _one_line_failure(home, "resume", run_id, "approve", within=60)
        assert f"the data folder {home.data.name}" in said or str(home.data) in said
        assert "read-only" in said and "taskmaster resume" in said
    await _delivers(home, run_id)


HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(120)  # longer than any wait: the test ends it
"""


async def test_a_database_locked_longer_than_the_wait_is_said_within_a_bound(
    home: Home,
) -> None:
    run_id = await reach_review(home)
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLD_LOCK,
        str(home.data / "taskmaster.db"),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"locked\n"
        # SQLite's 30 s busy wait, then one line (a loaded machine starts Python slowly).
        said = await _one_line_failure(home, "resume", run_id, "approve", within=60)
        assert f"locked by process {holder.pid}" in said
    finally:
        with contextlib.suppress(ProcessLookupError):
            holder.kill()
        await holder.wait()
    await _delivers(home, run_id)


async def test_a_full_disk_is_said_and_the_run_goes_on_after(tmp_path: Path) -> None:
    home = Home(tmp_path / "home", clean_env())
    home.data.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=6m", "tmpfs", str(home.data), target=home.data):
        run_id = await reach_review(home)
        filler = home.data / "filler"
        with filler.open("wb") as fill, contextlib.suppress(OSError):
            while True:  # until the disk is full
                fill.write(b"\0" * 65536)
        said = await _one_line_failure(home, "resume", run_id, "approve", within=60)
        assert "is full" in said and "free some space" in said
        filler.unlink()
        await _delivers(home, run_id)


async def test_the_health_check_fails_while_the_database_cannot_be_written(
    start_bot: StartBot, data_dir: Path
) -> None:
    async def health(url: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http, http.get(url) as answer:
            return answer.status, str((await answer.json()).get("error", ""))

    async with start_bot() as bot:
        assert await health(bot.health_url) == (200, "")
        holder = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            HOLD_LOCK,
            str(data_dir / "taskmaster.db"),
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert holder.stdout is not None
            assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"locked\n"
            status, error = await health(bot.health_url)
            assert status == 503 and f"locked by process {holder.pid}" in error
        finally:
            holder.kill()
            await holder.wait()
        with read_only(data_dir):
            status, error = await health(bot.health_url)
            assert status == 503 and "is read-only" in error
        assert await health(bot.health_url) == (200, "")
