"""Killing a `taskmaster` process with SIGKILL at a chosen instant, and checking what a
person then finds: shared by the crash tests and bench/kill_campaign.py.

A case runs the demo's TASK-101 in its own folder, kills the process group (the
command and everything it started) after its Nth printed line or N seconds into
delivery, continues the run the way a person would (`taskmaster resume RUN`, or the
ticket again if no run was registered), answers the review, and reports what
happened: whether it delivered, whether it got stuck, duplicate effects (pull
requests, branches, ticket comments beyond one), and whether anybody was asked to
review again after approving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from agent.git import git
from tests.cli import Result, run_cli, spawn_cli

REVIEW_HEADER = "━━ Review"
KEY = "TASK-101"


@dataclass
class Outcome:
    """What one kill left behind, once a person continued the run."""

    point: str
    delivered: bool = False
    stuck: str = ""  # why the run could not be brought to the end, if it could not
    duplicates: int = 0  # pull requests, branches and ticket comments beyond one each
    asked_twice: bool = False  # a review shown again after the person approved
    resumes: int = 0
    log: list[str] = field(default_factory=list)


class RunRow(TypedDict):
    run_id: str
    status: str
    decided_by: str | None


class Home:
    """One private folder with its own data and the environment the CLI runs with."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.data = path / ".taskmaster"
        self.env = env

    async def __call__(self, *args: str) -> Result:
        return await run_cli(self.path, self.env, *args, "--demo")

    async def runs(self) -> list[RunRow]:
        """The registry's runs (read from the file: a process per look costs seconds)."""
        path = self.data / "taskmaster.db"
        if not path.exists():
            return []
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute("SELECT run_id, status, decision FROM runs").fetchall()
        return [
            RunRow(
                run_id=run_id,
                status=status,
                decided_by=json.loads(decision)["by"] if decision else None,
            )
            for run_id, status, decision in rows
        ]

    def _lines(self, name: str) -> list[str]:
        path = self.data / name
        return path.read_text().splitlines() if path.exists() else []

    async def effects(self) -> tuple[int, int, int]:
        """(pull requests, remote branches, ticket comments linking a pull request)."""
        remote = self.data / "demo-remote"
        branches = 0
        if remote.exists():
            listed = await git(
                "branch", "--list", "taskmaster/*", "--format=%(refname)", cwd=remote
            )
            branches = len(listed.split())
        comments = [line for line in self._lines("ticket_comments.jsonl") if "pull" in line]
        return len(self._lines("pull_requests.jsonl")), branches, len(comments)


def clean_env() -> dict[str, str]:
    prefixes = ("TASKMASTER_", "SLACK_", "JIRA_", "GITHUB_", "GITLAB_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def every_line(_: str) -> bool:
    return True


def step_line(line: str) -> bool:
    """A line the terminal prints where a step starts (the step before it is checkpointed)."""
    return line.startswith(("▶", "…", REVIEW_HEADER, "Waiting for review"))


async def _kill_after_line(
    home: Home, args: tuple[str, ...], line: int, counts: Callable[[str], bool], delay: float = 0
) -> bool:
    """Run `args`, SIGKILL its process group `delay` seconds after the `line`th line
    `counts` counts; False if it ended first."""
    proc = await spawn_cli(home.path, home.env, *args, "--demo")
    assert proc.stdout is not None
    seen = 0
    try:
        async with asyncio.timeout(120):
            while seen < line:
                text = await proc.stdout.readline()
                if not text:
                    await proc.wait()
                    return False
                seen += counts(text.decode())
            if delay:
                # The instant of the kill itself, not a wait for something to happen.
                await asyncio.sleep(delay)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    return True


async def _to_the_end(home: Home, outcome: Outcome) -> None:
    """Continue the run as a person would until it is done, approving its review.

    Asked twice: the run waits for a review again (or a resume shows one) after an
    approval was claimed in the registry.
    """
    for _ in range(4):
        runs = await home.runs()
        if not runs:  # killed before the run was registered: start the ticket again
            result = await home("run", KEY)
            outcome.log.append(f"run again: {result.code}")
            continue
        [run] = runs
        status, claimed = run["status"], run["decided_by"] is not None
        if status == "done":
            outcome.delivered = True
            return
        if status == "awaiting_review":
            outcome.asked_twice |= claimed
            result = await home("resume", run["run_id"], "approve", "--by", "ana")
            outcome.log.append(f"approve: {result.code} {result.err.strip()[:200]}")
        elif status in ("running", "resuming", "failed"):
            outcome.resumes += 1
            result = await home("resume", run["run_id"])
            outcome.log.append(f"resume {status}: {result.code} {result.err.strip()[:200]}")
            outcome.asked_twice |= claimed and REVIEW_HEADER in result.out
        else:
            outcome.stuck = f"the run ended {status}"
            return
    outcome.stuck = f"still {(await home.runs())[0]['status']} after four steps"


async def _count(home: Home, outcome: Outcome) -> Outcome:
    pull_requests, branches, comments = await home.effects()
    outcome.duplicates = sum(max(0, n - 1) for n in (pull_requests, branches, comments))
    if outcome.delivered and 0 in (pull_requests, branches, comments):
        outcome.stuck = f"delivered without effects {pull_requests, branches, comments}"
    return outcome


async def kill_after_line(
    home: Home, line: int, counts: Callable[[str], bool] = every_line
) -> Outcome | None:
    """Kill `run` after the `line`th line `counts` counts (up to its review); None when
    the run printed fewer such lines."""
    if not await _kill_after_line(home, ("run", KEY), line, counts):
        return None
    outcome = Outcome(point=f"line {line}")
    await _to_the_end(home, outcome)
    return await _count(home, outcome)


async def reach_review(home: Home) -> str:
    result = await home("run", KEY)
    assert result.code == 0 and "Waiting for review" in result.out, result.out + result.err
    [run] = await home.runs()
    return run["run_id"]


def copy_home(template: Home, path: Path) -> Home:
    """A copy of `template`'s folder at `path`, its workspaces' remote pointed at the copy's."""
    shutil.copytree(template.path, path, symlinks=True, dirs_exist_ok=True)
    home = Home(path, template.env)
    remote = str(home.data / "demo-remote")
    for workspace in (home.data / "workspaces").iterdir():
        if (workspace / ".git").is_dir():
            subprocess.run(
                ["git", "-C", str(workspace), "remote", "set-url", "origin", remote], check=True
            )
    return home


async def delivery_window(home: Home) -> float:
    """Seconds from the first to the last line `resume RUN approve` prints (the delivery)."""
    [run] = await home.runs()
    proc = await spawn_cli(home.path, home.env, "resume", run["run_id"], "approve", "--demo")
    assert proc.stdout is not None
    stamps = []
    async with asyncio.timeout(120):
        while await proc.stdout.readline():
            stamps.append(time.monotonic())
        await proc.wait()
    assert proc.returncode == 0 and stamps
    return stamps[-1] - stamps[0]


async def kill_in_delivery(home: Home, delay: float) -> Outcome:
    """Approve the run waiting in `home`, and kill the approving process `delay` seconds
    after its first line (the decision is claimed by then)."""
    [run] = await home.runs()
    args = ("resume", run["run_id"], "approve", "--by", "ana")
    outcome = Outcome(point=f"delivery +{delay:.2f}s")
    if not await _kill_after_line(home, args, 1, every_line, delay):
        outcome.log.append("finished before the kill")
    await _to_the_end(home, outcome)
    return await _count(home, outcome)
