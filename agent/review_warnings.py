"""What a reviewer must not miss, in plain words: changes whose danger a diff hides.

A CI workflow runs with the CI's secrets; an executable bit, a symlink or a nested
repository changes what running or checking out the code does; a lock file swaps
dependencies under an innocent line; a binary file cannot be read at all; and some
files change what TaskMaster or git will do with the repository next time. Each
becomes one line of the review, above the diff, with the sandbox's own warnings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from agent.changes import Change, ChangedPath, visible

_CI = re.compile(
    r"^(\.github/(workflows|actions)/|\.gitlab-ci\.ya?ml$|\.gitlab/|\.circleci/|\.buildkite/"
    r"|\.travis\.ya?ml$|azure-pipelines\.ya?ml$|bitbucket-pipelines\.ya?ml$|(.*/)?Jenkinsfile$)"
)
LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "poetry.lock",
        "Pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "Cargo.lock",
        "go.sum",
        "Gemfile.lock",
        "composer.lock",
        "mix.lock",
        "pubspec.lock",
        "packages.lock.json",
        "flake.lock",
    }
)
# Files that decide what TaskMaster or git does with the repository.
TOOLING_FILES = frozenset({".taskmaster.md", "AGENTS.md", ".gitattributes", ".gitmodules"})

EXECUTABLE, SYMLINK, GITLINK = "100755", "120000", "160000"


def _names(paths: Iterable[str]) -> str:
    # A file name is text from the repository: it must not hide the warning it is in.
    listed = sorted(visible(path) for path in paths)
    shown = ", ".join(listed[:5])
    return shown + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")


def _binary(path: ChangedPath) -> str:
    size = f"{path.size:,} bytes, " if path.size is not None else ""
    return f"{visible(path.path)} ({size}blob {path.blob[:12]})"


def review_warnings(change: Change, sandbox: Sequence[str] = ()) -> tuple[str, ...]:
    """The review's warnings for `change`, after those of the sandbox the tests ran in."""
    present = [p for p in change.paths if p.status != "D"]
    ci = [p.path for p in change.paths if _CI.match(p.path)]
    executable = [p.path for p in present if p.new_mode == EXECUTABLE and p.old_mode != EXECUTABLE]
    links = [p.path for p in present if p.new_mode == SYMLINK]
    nested = [p.path for p in present if p.new_mode == GITLINK]
    locks = [p.path for p in change.paths if PurePosixPath(p.path).name in LOCK_FILES]
    binaries = [_binary(p) for p in present if p.binary]
    tooling = [p.path for p in change.paths if PurePosixPath(p.path).name in TOOLING_FILES]
    lines = list(sandbox)
    if change.holds_a_secret:
        lines.append(
            "The change holds the value of one of TaskMaster's secrets (shown as ***). "
            "TaskMaster will not push it: reject it or ask for changes."
        )
    if ci:
        lines.append(
            f"Changes CI configuration: {_names(ci)}. It runs with your CI's secrets; "
            "read every line."
        )
    if executable:
        lines.append(f"Makes files executable: {_names(executable)}.")
    if links:
        lines.append(f"Adds or changes symbolic links: {_names(links)}.")
    if nested:
        lines.append(f"Adds nested git repositories (submodule links): {_names(nested)}.")
    if locks:
        lines.append(
            f"Changes lock files: {_names(locks)}. Check which dependencies and versions moved."
        )
    if binaries:
        lines.append(f"Adds or changes binary files, not shown as text: {_names(binaries)}.")
    if tooling:
        lines.append(
            f"Changes files that decide what TaskMaster or git does with this repository: "
            f"{_names(tooling)}."
        )
    if change.had_hidden_characters:
        lines.append(
            "The diff holds characters that can hide text (control or bidirectional "
            "characters); they are shown as escapes such as \\x1b or <U+202E>."
        )
    return tuple(lines)
