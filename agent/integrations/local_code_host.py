"""The local code host: a git remote on disk and pull requests in a JSON-lines file.

Used when TASKMASTER_REPO is a path or URL git can clone and no GitHub repository is
configured (docs/architecture.md, Integrations). The push is real; the "pull request" is one line in
`<data_dir>/pull_requests.jsonl`, so the demo and the tests exercise the whole
delivery without a network.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.errors import ErrorKind, TaskmasterError
from agent.git import git
from agent.models import TICKET_KEY, PullRequest

log = logging.getLogger(__name__)

Entry = dict[str, Any]

PULL_REQUESTS_FILE = "pull_requests.jsonl"
PROTECTED_BRANCHES = frozenset({"main", "master"})
_BRANCH_TICKET = re.compile(rf"^taskmaster/({TICKET_KEY.pattern.strip('^$')})(?:-|$)")


def read_jsonl(path: Path) -> list[Entry]:
    """Every well-formed object line of `path`; a torn line from a crash is skipped."""
    if not path.is_file():
        return []
    with path.open("r", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        return _parse_lines(handle.read(), path)


def append_once(
    path: Path, find: Callable[[Entry], bool], make: Callable[[list[Entry]], Entry]
) -> Entry:
    """The first entry of `path` that `find` accepts, or `make(entries)` appended.

    The whole read-decide-append runs under an exclusive `flock`, because two bot
    processes may share a data dir and must neither duplicate nor renumber entries.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        entries = _parse_lines(text, path)
        for entry in entries:
            if find(entry):
                return entry
        entry = make(entries)
        # A crash may have left a last line without its newline; never glue onto it.
        prefix = "\n" if text and not text.endswith("\n") else ""
        handle.write(prefix + json.dumps(entry, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
        return entry


def _parse_lines(text: str, path: Path) -> list[Entry]:
    entries: list[Entry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s line %d is not JSON; skipped", path, number)
            continue
        if isinstance(value, dict):
            entries.append(value)
    return entries


def ticket_of_branch(branch: str) -> str | None:
    """The ticket key in a branch named `taskmaster/<KEY>-<slug>`, if it is one."""
    match = _BRANCH_TICKET.match(branch)
    return match.group(1) if match else None


def _plain_folder(folder: Path) -> bool:
    """A folder that is no git repository (neither a work tree nor a bare one)."""
    return folder.is_dir() and not (folder / ".git").exists() and not (folder / "HEAD").exists()


def _remote_location(repo: str) -> str:
    """An existing local path made absolute (clones run elsewhere); anything else as is."""
    if "://" not in repo:
        path = Path(repo).expanduser()
        if path.exists():
            return str(path.resolve())
    return repo


class LocalCodeHost:
    """A `CodeHost` over any repository git can clone, with pull requests kept on disk."""

    def __init__(self, repo: str, data_dir: Path) -> None:
        self.repo = _remote_location(repo)
        self.pull_requests_file = data_dir / PULL_REQUESTS_FILE

    async def clone(self, dest: Path) -> None:
        # No hardlinks: the workspace must never share object files with the remote.
        try:
            await git("clone", "--no-hardlinks", "--quiet", "--", self.repo, str(dest))
        except TaskmasterError:
            folder = Path(self.repo)
            if _plain_folder(folder):
                raise TaskmasterError(
                    ErrorKind.GIT,
                    f"TASKMASTER_REPO ({folder.name}) is a folder, not a git repository: "
                    "point it at a repository (a clone, or `git init` and a commit).",
                ) from None
            raise

    async def push(self, workspace: Path, branch: str) -> str:
        default = await self._remote_default_branch(workspace)
        if branch in PROTECTED_BRANCHES or branch == default:
            raise TaskmasterError(
                ErrorKind.GIT, f"Refusing to push to `{branch}`: it is a protected branch."
            )
        # A full refspec cannot be mistaken for an option, whatever the branch name.
        ref = f"refs/heads/{branch}"
        await git("push", "--quiet", "origin", f"{ref}:{ref}", cwd=workspace)
        sha = await self._remote_sha(workspace, ref)
        if sha is None:
            raise TaskmasterError(ErrorKind.GIT, f"The remote has no `{branch}` after the push.")
        return sha

    async def find_pull_request(self, branch: str) -> PullRequest | None:
        entries = await asyncio.to_thread(read_jsonl, self.pull_requests_file)
        for entry in entries:
            if entry.get("branch") == branch:
                return _pull_request(entry)
        return None

    async def open_pull_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> PullRequest:
        # Like GitHub, refuse a pull request whose head branch the remote does not have.
        if await self._remote_sha(None, f"refs/heads/{branch}") is None:
            raise TaskmasterError(
                ErrorKind.GIT, f"Cannot open a pull request: `{branch}` was never pushed."
            )

        def make(entries: list[Entry]) -> Entry:
            number = 1 + max((int(e.get("number", 0)) for e in entries), default=0)
            return {
                "number": number,
                "branch": branch,
                "base": base,
                "title": title,
                "body": body,
                "ticket": ticket_of_branch(branch),
                "url": f"{self._web_base()}#pull-{number}",
            }

        entry = await asyncio.to_thread(
            append_once, self.pull_requests_file, lambda e: e.get("branch") == branch, make
        )
        return _pull_request(entry)

    async def _remote_default_branch(self, workspace: Path) -> str | None:
        out = await git("ls-remote", "--symref", "origin", "HEAD", cwd=workspace)
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/"):
                return line.removeprefix("ref: refs/heads/").split("\t")[0]
        return None

    async def _remote_sha(self, workspace: Path | None, ref: str) -> str | None:
        """The sha of `ref` on the remote: `origin` of `workspace`, or the repo itself."""
        remote = "origin" if workspace else self.repo
        out = await git("ls-remote", "--", remote, ref, cwd=workspace)
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                return sha
        return None

    def _web_base(self) -> str:
        return Path(self.repo).as_uri() if Path(self.repo).is_absolute() else self.repo


def _pull_request(entry: Entry) -> PullRequest:
    return PullRequest(
        number=int(entry["number"]),
        url=str(entry["url"]),
        branch=str(entry["branch"]),
        title=str(entry.get("title", "")),
    )
