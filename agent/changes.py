"""The change a run made: its diff against the base commit, its hash and its stats.

The diff is taken through a throwaway git index, so looking at the change never
touches the workspace's own index: the review node may run again on resume, and
taking the diff twice must give the same bytes and leave no trace.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from unidiff.patch import PatchSet

from agent.git import git
from agent.models import FileStat

_TEST_PATH = re.compile(r"(^|/)(tests?|spec|__tests__)/|(^|/)test_[^/]*$|_test\.\w+$|\.spec\.\w+$")


@dataclass(frozen=True)
class Change:
    diff: str
    diff_hash: str
    files: tuple[FileStat, ...]

    @property
    def empty(self) -> bool:
        return not self.files

    @property
    def touches_tests(self) -> bool:
        return any(_TEST_PATH.search(stat.path) for stat in self.files)


async def collect_change(workspace: Path, base_sha: str) -> Change:
    """Everything in the working tree that differs from `base_sha`, new files included."""
    with tempfile.TemporaryDirectory(prefix="taskmaster-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        await git("read-tree", base_sha, cwd=workspace, env=env)
        await git("add", "--all", ".", cwd=workspace, env=env)
        diff = await git(
            "diff", "--cached", "--no-color", "--no-ext-diff", base_sha, cwd=workspace, env=env
        )
    return Change(
        diff=diff,
        diff_hash=hashlib.sha256(diff.encode()).hexdigest(),
        files=file_stats(diff),
    )


def file_stats(diff: str) -> tuple[FileStat, ...]:
    stats = []
    for patched in PatchSet(diff):
        status = (
            "added"
            if patched.is_added_file
            else "removed"
            if patched.is_removed_file
            else "renamed"
            if patched.is_rename
            else "modified"
        )
        stats.append(
            FileStat(
                path=patched.path,
                added=patched.added,
                removed=patched.removed,
                status=status,
            )
        )
    return tuple(stats)
