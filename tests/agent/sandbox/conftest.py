"""A sandbox built from settings for each test, with the host folders it must hide."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.integrations import registry
from agent.models import TestResult
from agent.sandbox.base import Sandbox
from agent.settings import load_settings
from agent.tools.test_runner import run_command


@dataclass
class Host:
    """TaskMaster's side of the wall: its data folder, and a run's workspace in it."""

    data: Path
    workspace: Path
    environ: dict[str, str]

    def sandbox(self, **settings: str) -> Sandbox:
        values = {"TASKMASTER_DATA_DIR": str(self.data), **settings}
        return registry.sandbox(load_settings(values), self.environ)

    async def run(self, command: str, *, seconds: float = 60, **settings: str) -> TestResult:
        return await run_command(
            command, self.workspace, sandbox=self.sandbox(**settings), timeout=seconds
        )


@pytest.fixture
def host(tmp_path: Path) -> Host:
    data = tmp_path / "data"
    workspace = data / "workspaces" / "run-1"
    (workspace / ".git").mkdir(parents=True)
    return Host(data=data, workspace=workspace, environ=dict(os.environ))
