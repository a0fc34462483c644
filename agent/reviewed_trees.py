"""What changed between two reviews: each review's tree is kept as a git tree object.

The tree is written through a throwaway index (like the review's diff), so the
workspace's own index and files are never touched; the next review diffs its tree
against the previous one, and a reviewer reads only what changed since.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from agent.git import git


async def reviewed_tree(workspace: Path, base_sha: str) -> str:
    """The id of a git tree holding the working tree as it is now (new files included)."""
    with tempfile.TemporaryDirectory(prefix="taskmaster-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        await git("read-tree", base_sha, cwd=workspace, env=env)
        await git("add", "--all", ".", cwd=workspace, env=env)
        return (await git("write-tree", cwd=workspace, env=env)).strip()


async def diff_since(workspace: Path, old_tree: str, new_tree: str) -> str:
    """The diff from one reviewed tree to the next ('' when nothing changed)."""
    return await git("diff", "--no-color", "--no-ext-diff", old_tree, new_tree, cwd=workspace)
