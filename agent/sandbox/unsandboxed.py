"""TASKMASTER_SANDBOX=off: the repository's code runs as TaskMaster's own user.

Only for hosts where bubblewrap cannot run, and only when set explicitly. The
environment is still the allowlist (no secrets in it), but the code could read
TaskMaster's files and reach the network, so every review says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.sandbox.base import Launch
from agent.sandbox.environment import sandbox_environment

WARNING = (
    "The tests ran without a sandbox (TASKMASTER_SANDBOX=off): the repository's code "
    "could read TaskMaster's files and reach the network."
)


@dataclass(frozen=True)
class Unsandboxed:
    """A `Sandbox` in name only: a shell in the workspace with an allowlisted environment."""

    environ: Mapping[str, str]

    @property
    def name(self) -> str:
        return "off"

    def warnings(self) -> tuple[str, ...]:
        return (WARNING,)

    async def check(self) -> None:
        return None

    async def prepare(self, workspace: Path) -> None:
        return None

    async def finish(self, workspace: Path) -> None:
        return None

    def launch(self, command: str, workspace: Path, env: Mapping[str, str]) -> Launch:
        home = self.environ.get("HOME") or os.path.expanduser("~")
        return Launch(
            argv=["/bin/sh", "-c", command],
            env=sandbox_environment(self.environ, env, home=home),
        )

    def explain_failure(self, output: str, exit_code: int | None) -> str:
        return ""
