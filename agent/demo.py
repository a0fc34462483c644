"""The demo: a private copy of the example repository as the remote, its tickets and scripts.

Used by `taskmaster run --demo`, `taskmaster demo` and the tests, so all of them
exercise the same real repository, tickets and scripted transcripts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.git import git

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "demo"

# A demo must never reach a real code host, whatever the environment holds (GitHub
# Actions, for one, always sets GITHUB_REPOSITORY).
NEVER_IN_A_DEMO = ("GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITLAB_PROJECT", "GITLAB_TOKEN")


async def prepare_demo(data_dir: Path, examples: Path = EXAMPLES) -> dict[str, str]:
    """Make `<data_dir>/demo-remote` (a git repository of the demo project) if missing.

    Returns the settings that point TaskMaster at it: repository, tickets and the
    scripted model, by their environment names.
    """
    remote = (data_dir / "demo-remote").resolve()
    if not (remote / ".git").is_dir():
        shutil.rmtree(remote, ignore_errors=True)
        shutil.copytree(examples / "repo", remote)
        await git("init", "-q", "-b", "main", cwd=remote)
        await git("add", "--all", ".", cwd=remote)
        await git("commit", "-q", "-m", "Initial commit of the demo project", cwd=remote)
    return {
        "TASKMASTER_REPO": str(remote),
        "TASKMASTER_TICKETS": str(examples / "tickets"),
        "TASKMASTER_MODEL": f"scripted:{examples / 'scripts'}",
    }


async def demo_overrides(data_dir: Path) -> dict[str, str | None]:
    """The settings of a demo: `prepare_demo`'s, with every real outside service unset."""
    local: dict[str, str | None] = {"TASKMASTER_CODE_HOST": "local"}
    return {**await prepare_demo(data_dir), **dict.fromkeys(NEVER_IN_A_DEMO), **local}
