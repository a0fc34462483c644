"""Clone and push for code hosts reached over HTTPS with a token (GitHub, GitLab).

The token travels only in `config` (an `http.extraHeader` given to git as GIT_CONFIG_*
variables for the one command), never in argv, `.git/config` or a log; `redact` lists
its forms, kept out of any error git prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from agent.errors import ErrorKind, TaskmasterError
from agent.git import git


async def clone_default_branch(
    url: str, branch: str, dest: Path, *, config: Mapping[str, str], redact: tuple[str, ...]
) -> None:
    await git("clone", "--branch", branch, "--", url, str(dest), config=config, redact=redact)


async def push_branch(
    workspace: Path,
    branch: str,
    default_branch: str,
    *,
    config: Mapping[str, str],
    redact: tuple[str, ...],
) -> str:
    """Push `branch` and return the sha the remote now has; never the default branch."""
    if not branch or branch.startswith("-") or branch in (default_branch, "HEAD"):
        raise TaskmasterError(
            ErrorKind.INVALID_INPUT, f"TaskMaster never pushes to the branch {branch!r}."
        )
    ref = f"refs/heads/{branch}"
    sha = (await git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=workspace)).strip()
    # Push the sha just read, so the sha returned is exactly the one the remote has.
    await git("push", "origin", f"{sha}:{ref}", cwd=workspace, config=config, redact=redact)
    return sha
