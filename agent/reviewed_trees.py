"""What changed between two reviews: the diff from one reviewed tree to the next.

Each review keeps the id of the tree it showed (`Change.tree`, written through a
throwaway index, so the workspace is never touched); the next review diffs its own
tree against it, and a reviewer reads only what changed since. The diff is shown the
way the review's own diff is: no textconv or external diff the repository could
configure, and characters that would hide text made visible.
"""

from __future__ import annotations

from pathlib import Path

from agent.changes import visible
from agent.git import git

# As the review's diff is taken (agent.changes): the repository cannot blind either one.
DIFF_OPTIONS = ("--no-color", "--no-ext-diff", "--no-textconv", "--find-renames")


async def diff_since(workspace: Path, old_tree: str, new_tree: str) -> str:
    """The diff from one reviewed tree to the next ('' when nothing changed)."""
    return visible(await git("diff", *DIFF_OPTIONS, old_tree, new_tree, cwd=workspace))
