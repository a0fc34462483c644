"""The sandbox seam: what the test runner asks of whichever sandbox settings chose."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class Companion(Protocol):
    """Work around a sandbox's life: `started` once its process runs and before its
    command may start (attaching a network, say); `stop` after, whatever happened."""

    async def started(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Launch:
    """One command ready to start: the program and arguments, its whole environment,
    the descriptors it inherits, and what must happen beside it."""

    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()
    companion: Companion | None = None


class Sandbox(Protocol):
    """Runs a shell command from the repository with only the workspace to work on."""

    @property
    def name(self) -> str:
        """The setting's value: `bwrap` or `off`."""
        ...

    def warnings(self) -> tuple[str, ...]:
        """What every review must tell people about how the code ran (network, no sandbox)."""
        ...

    async def check(self) -> None:
        """Raise `SettingsError` with one line if this sandbox cannot run on this host."""
        ...

    async def prepare(self, workspace: Path) -> None:
        """Make `workspace` usable from inside (e.g. hand its files to the sandbox's user)."""
        ...

    async def finish(self, workspace: Path) -> None:
        """Undo what the command may have left that is dangerous outside (setuid bits)."""
        ...

    def launch(self, command: str, workspace: Path, env: Mapping[str, str]) -> Launch:
        """How to run `command` through `/bin/sh -c` in `workspace`, with `env` added to
        the allowlisted environment (the repository's own variables)."""
        ...

    def explain_failure(self, output: str, exit_code: int | None) -> str:
        """Plain words for a limit the command hit, judged from its output; "" if none."""
        ...
