"""Fixtures for the tool tests: a real git clone-like folder with a real outside beside it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.sandbox.base import Sandbox
from agent.tools.toolset import ToolContext
from agent.tools.workspace import Workspace

SERVICE = """\
def due(task):
    return task.due


def done(task):
    return task.done
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small repository with a real `.git` folder."""
    root = tmp_path / "repo"
    (root / "src" / "tasks").mkdir(parents=True)
    (root / "src" / "tasks" / "service.py").write_text(SERVICE)
    (root / "README.md").write_text("# Tasks\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the workspace with a sentinel the tools must never touch."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "sentinel.txt").write_text("original\n")
    return folder


@pytest.fixture
def ws(repo: Path) -> Workspace:
    return Workspace(repo)


@pytest.fixture
def ctx(ws: Workspace, sandbox: Sandbox) -> ToolContext:
    return ToolContext(workspace=ws, test_command=None, sandbox=sandbox, test_timeout=60.0)


def _snapshot(folder: Path, *, skip: Path | None = None) -> dict[str, bytes]:
    """Every entry under `folder` (except under `skip`), with a file's content."""
    entries: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if skip is not None and path.is_relative_to(skip):
            continue
        if path.is_symlink():
            entries[str(path)] = f"link to {os.readlink(path)}".encode()
        elif path.is_file():
            entries[str(path)] = path.read_bytes()
        else:
            entries[str(path)] = b"folder"
    return entries


@pytest.fixture
def assert_untouched(tmp_path: Path, repo: Path, outside: Path) -> Callable[[], None]:
    """A check that nothing outside the workspace, nor in its `.git`, has changed since."""

    def state() -> dict[str, bytes]:
        return _snapshot(tmp_path, skip=repo) | _snapshot(repo / ".git")

    before = state()

    def check() -> None:
        assert state() == before
        assert (outside / "sentinel.txt").read_text() == "original\n"

    return check
