"""The run's workspace: the one folder the agent's tools may touch.

Every path the model hands a tool goes through `Workspace.resolve`, which refuses
anything that would reach outside the clone (absolute paths, `..`, symlinks that
point out, including through a parent folder) or into git's own data (`.git`), where
a written hook or config would run code outside the workspace or rewrite history.
Refusals are `ToolError`s whose message tells the model how to correct itself.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

GIT_DIR = ".git"


class ToolError(Exception):
    """A tool call the model can correct; the message is written for the model."""


def _is_git_part(part: str) -> bool:
    # Case-insensitive because on case-insensitive filesystems `.GIT` is `.git`.
    return part.lower() == GIT_DIR


class Workspace:
    """A root folder (the run's git clone) that confines every path a tool uses."""

    def __init__(self, root: Path) -> None:
        resolved = root.resolve()
        if not resolved.is_dir():
            raise ValueError(f"workspace root {root} is not a folder")
        self.root = resolved

    def resolve(self, path: str) -> Path:
        """The absolute, symlink-free path for `path`, or a `ToolError` if it is not allowed.

        `Path.resolve` follows every symlink that exists, so for a file still to be
        written the check applies to its nearest existing parent, and a dangling
        symlink is judged by where it points.
        """
        raw = PurePosixPath(path)
        if raw.is_absolute() or Path(path).is_absolute():
            raise ToolError(
                f"path '{path}' is absolute; use a path relative to the repository root"
            )
        if ".." in raw.parts:
            raise ToolError(
                f"path '{path}' leaves the workspace; use a path relative to the repository root"
            )
        if any(_is_git_part(part) for part in raw.parts):
            raise ToolError(f"path '{path}' is inside .git, which the tools may not touch")
        try:
            resolved = (self.root / raw).resolve()
        except (OSError, RuntimeError, ValueError) as exc:
            # RuntimeError: a symlink loop (Python 3.11); ValueError: a NUL byte.
            raise ToolError(f"path '{path}' cannot be resolved: {exc}") from None
        if not resolved.is_relative_to(self.root):
            raise ToolError(
                f"path '{path}' leaves the workspace (through a symlink); "
                "use a path relative to the repository root"
            )
        if any(_is_git_part(part) for part in resolved.relative_to(self.root).parts):
            raise ToolError(
                f"path '{path}' leads into .git (through a symlink), which the tools may not touch"
            )
        return resolved

    def relative(self, path: Path) -> str:
        """`path` (already resolved) as the model writes it: relative, with `/`."""
        return path.relative_to(self.root).as_posix()
