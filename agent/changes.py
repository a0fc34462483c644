"""The change a run made: its diff against the base commit, its tree, hash and stats.

The diff is taken through a throwaway git index, so looking at the change never
touches the workspace's own index: the review node may run again on resume, and
taking the diff twice must give the same bytes and leave no trace.

What a person approves is exactly what is pushed: the hash covers the diff they read
and the id of the tree git made from the working tree, and `push` commits that very
tree. The diff cannot be blinded: the repository's `.gitattributes` is powerless
(`agent.git.harden_clone`), and characters that would hide text on a screen (carriage
returns, escape sequences, bidirectional controls) are shown as visible escapes.
Binary files appear by name; `agent.review_warnings` names their size and blob.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from unidiff.patch import PatchSet

from agent.git import git
from agent.models import FileStat

_TEST_PATH = re.compile(r"(^|/)(tests?|spec|__tests__)/|(^|/)test_[^/]*$|_test\.\w+$|\.spec\.\w+$")
# Characters that hide, reorder or split text on a screen: C0 controls but tab and
# newline, a carriage return not ending a line, DEL and C1 controls; the Unicode format
# characters (zero-width, bidirectional, word joiners, BOM, tags: Trojan Source and
# ASCII smuggling), line and paragraph separators (line ends to JavaScript), and the
# blank "filler" letters that are valid in identifiers.
_HIDING = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)"
    "|[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_DIFF_OPTIONS = ("--no-color", "--no-ext-diff", "--no-textconv", "--find-renames")


@dataclass(frozen=True)
class ChangedPath:
    """One path of the change as git records it (modes as octal strings, "000000" absent)."""

    path: str
    status: str  # A added, M modified, D deleted, R renamed, T type changed
    old_mode: str
    new_mode: str
    blob: str  # the new content's blob id ("0" * 40 when deleted)
    binary: bool
    size: int | None  # bytes of the new content, for binary files


@dataclass(frozen=True)
class Change:
    diff: str
    diff_hash: str
    tree: str
    files: tuple[FileStat, ...]
    paths: tuple[ChangedPath, ...] = ()
    # The raw diff held characters that hide text; `diff` shows them as escapes.
    had_hidden_characters: bool = False
    # The raw diff held the value of one of TaskMaster's secrets; `diff` shows `***`.
    holds_a_secret: bool = False

    @property
    def empty(self) -> bool:
        return not self.files and not self.paths

    @property
    def touches_tests(self) -> bool:
        return any(_TEST_PATH.search(stat.path) for stat in self.files)


def visible(text: str) -> str:
    """`text` with every character that could hide other text written as an escape."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        return f"\\x{ord(char):02x}" if ord(char) < 0xA0 else f"<U+{ord(char):04X}>"

    return _HIDING.sub(escape, text)


def approval_hash(tree: str, diff: str) -> str:
    """What an approval binds to: the tree that will be pushed and the diff people read."""
    return hashlib.sha256(f"{tree}\n{diff}".encode()).hexdigest()


async def collect_change(
    workspace: Path, base_sha: str, redact: Callable[[str], str] | None = None
) -> Change:
    """Everything in the working tree that differs from `base_sha`, new files included.

    `redact` masks secret values in the diff shown (and says so in `holds_a_secret`).
    """
    with tempfile.TemporaryDirectory(prefix="taskmaster-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        await git("read-tree", base_sha, cwd=workspace, env=env)
        await git("add", "--all", ".", cwd=workspace, env=env)
        tree = (await git("write-tree", cwd=workspace, env=env)).strip()
        diff = await git("diff", "--cached", *_DIFF_OPTIONS, base_sha, cwd=workspace, env=env)
        raw = await git(
            "diff",
            "--cached",
            "--raw",
            "-z",
            "--no-abbrev",
            *_DIFF_OPTIONS,
            base_sha,
            cwd=workspace,
            env=env,
        )
        numstat = await git(
            "diff",
            "--cached",
            "--numstat",
            "-z",
            *_DIFF_OPTIONS,
            base_sha,
            cwd=workspace,
            env=env,
        )
    binary = _binary_paths(numstat)
    paths = []
    for path in _raw_paths(raw):
        is_binary = path.path in binary
        size = None
        if is_binary and path.status != "D":
            size = int(await git("cat-file", "-s", path.blob, cwd=workspace))
        paths.append(
            ChangedPath(
                path.path, path.status, path.old_mode, path.new_mode, path.blob, is_binary, size
            )
        )
    masked = redact(diff) if redact else diff
    shown = visible(masked)
    return Change(
        diff=shown,
        diff_hash=approval_hash(tree, shown),
        tree=tree,
        files=file_stats(shown),
        paths=tuple(paths),
        had_hidden_characters=shown != masked,
        holds_a_secret=masked != diff,
    )


def _raw_paths(raw: str) -> list[ChangedPath]:
    """Parse `git diff --raw -z`: `:old new oldsha newsha STATUS\\0path\\0[path2\\0]`."""
    fields = raw.split("\0")
    paths: list[ChangedPath] = []
    index = 0
    while index < len(fields) and fields[index].startswith(":"):
        old_mode, new_mode, _, new_blob, status = fields[index][1:].split(" ")
        kind = status[0]
        path = fields[index + 1]
        index += 2
        if kind in "RC":  # the new name follows the old one
            path = fields[index]
            index += 1
        paths.append(ChangedPath(path, kind, old_mode, new_mode, new_blob, False, None))
    return paths


def _binary_paths(numstat: str) -> set[str]:
    """Paths git counted as binary (`-\\t-\\t`) in `git diff --numstat -z`."""
    fields = numstat.split("\0")
    binary: set[str] = set()
    index = 0
    while index < len(fields) and fields[index]:
        added, removed, path = fields[index].split("\t", 2)
        index += 1
        if not path:  # a rename: old and new names follow
            path = fields[index + 1]
            index += 2
        if added == "-" and removed == "-":
            binary.add(path)
    return binary


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
