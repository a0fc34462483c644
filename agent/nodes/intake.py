"""The first two steps: load the ticket, then clone the repository onto a fresh branch
and run the repository's setup command (in the sandbox) once."""

from __future__ import annotations

import re
from pathlib import Path

from agent.deps import Deps
from agent.errors import ErrorKind, TaskmasterError
from agent.events import Step, TicketLoaded, emit
from agent.git import git, harden_clone
from agent.integrations.keys import key_slug
from agent.models import Ticket
from agent.repo_config import read_repo_config
from agent.state import Json, RunState
from agent.ticket_limits import bounded
from agent.tools.test_runner import run_command
from agent.workspaces import remove_workspace, workspace_path

GUIDE_FILES = (".taskmaster.md", "AGENTS.md")
GUIDE_LIMIT = 8000
SETUP_OUTPUT_SHOWN = 1500


async def load_ticket(state: RunState, deps: Deps) -> Json:
    key = deps.tickets.parse_key(state["ticket_key"])  # checked at create; again before any URL
    emit(Step(name="ticket", status="started"))
    # A surface may have fetched it already, to refuse an unknown ticket before a run starts.
    known = state.get("ticket")
    ticket = Ticket.model_validate(known) if known else await deps.tickets.fetch(key)
    ticket = bounded(ticket, deps.settings.max_ticket_chars)
    emit(TicketLoaded(ticket=ticket))
    emit(Step(name="ticket", status="done"))
    return {"ticket": ticket.model_dump(mode="json")}


def branch_name(ticket: Ticket) -> str:
    """`taskmaster/<KEY>-<slug>`: made by code, so the model can never pick the branch.

    The key goes in through `key_slug`: a GitLab key's `#` and `/` never reach the ref.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", ticket.title.lower()).strip("-")[:40].rstrip("-")
    return f"taskmaster/{key_slug(ticket.key)}-{slug or 'change'}"


async def prepare_workspace(state: RunState, deps: Deps) -> Json:
    emit(Step(name="workspace", status="started"))
    ticket = Ticket.model_validate(state["ticket"])
    workspace = workspace_path(deps.workspaces, state["run_id"])
    # A crash may have left a half-made clone behind; this node owns the folder.
    await remove_workspace(workspace)
    workspace.parent.mkdir(parents=True, exist_ok=True)
    await deps.code_host.clone(workspace)
    harden_clone(workspace)
    base_branch = (await git("rev-parse", "--abbrev-ref", "HEAD", cwd=workspace)).strip()
    base_sha = (await git("rev-parse", "HEAD", cwd=workspace)).strip()
    branch = await _unused_branch(workspace, branch_name(ticket))
    await git("checkout", "-q", "-b", branch, cwd=workspace)
    guide_name, guide_text = _read_guide(workspace)
    config = read_repo_config(workspace, deps.settings.test_command)
    if config.setup_command:
        await _set_up(config.setup_command, workspace, config.environment, deps)
    emit(Step(name="workspace", status="done"))
    return {
        "workspace": str(workspace),
        "branch": branch,
        "base_branch": base_branch,
        "base_sha": base_sha,
        "repo_guide": f"{guide_name}\n{guide_text}" if guide_name else "",
        "test_command": config.test_command,
        "repo_env": config.environment,
    }


async def _set_up(command: str, workspace: Path, env: dict[str, str], deps: Deps) -> None:
    """Run the repository's setup command; a failure stops the run with its last lines.

    The run can be retried: this node starts again from a fresh clone.
    """
    result = await run_command(
        command,
        workspace,
        sandbox=deps.sandbox,
        env=env,
        timeout=deps.settings.test_timeout,
        redact=deps.redact,
    )
    if result.ok:
        return
    why = result.limit or (
        f"timed out after {result.duration:.0f}s"
        if result.timed_out
        else f"exit {result.exit_code}"
    )
    offline = deps.settings.sandbox == "bwrap" and not deps.settings.sandbox_network
    hint = (
        " The sandbox has no network: if the setup downloads dependencies, set "
        "TASKMASTER_SANDBOX_NETWORK=on."
        if offline
        else ""
    )
    tail = result.output_tail[-SETUP_OUTPUT_SHOWN:].strip()
    lines = f" Its last lines:\n{tail}" if tail else ""
    raise TaskmasterError(
        ErrorKind.TESTS,
        f"The repository's setup command `{command}` failed ({why}).{hint}{lines}",
    )


async def _unused_branch(workspace: Path, wanted: str) -> str:
    """`wanted`, or `wanted-2`, `-3`... when an earlier run's branch is already on the remote.

    Pushing onto an existing branch would fail (other history) or, forced, clobber
    commits people added to its pull request; a new name does neither.
    """
    taken = set((await git("branch", "-r", "--format=%(refname:short)", cwd=workspace)).split())
    branch, number = wanted, 1
    while f"origin/{branch}" in taken:
        number += 1
        branch = f"{wanted}-{number}"
    return branch


def _read_guide(workspace: Path) -> tuple[str | None, str]:
    for name in GUIDE_FILES:
        path = workspace / name
        if path.is_file():
            return name, path.read_text(errors="replace")[:GUIDE_LIMIT]
    return None, ""
