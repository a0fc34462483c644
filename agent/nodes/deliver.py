"""Delivery after a person's approval, one node per outside effect.

Each node records its effect in the state (checkpointed with durability "sync"), and
skips the effect when the state says it is done. A crash between two effects resumes
at the next one; a crash inside one is covered by the code host and ticket source
finding what they already made (an open pull request for the branch, a comment that
links it) before making it again.
"""

from __future__ import annotations

from pathlib import Path

from agent.changes import collect_change
from agent.deps import Deps
from agent.errors import ErrorKind, TaskmasterError
from agent.events import PullRequestOpened, Step, TicketUpdated, emit
from agent.git import git
from agent.models import Plan, PullRequest, ReviewDecision, ReviewRequest, TestResult, Ticket
from agent.state import Json, RunState
from agent.usage import RunUsage
from agent.workspaces import remove_workspace


async def push(state: RunState, deps: Deps) -> Json:
    emit(Step(name="deliver", status="started"))
    if state.get("pushed_sha"):
        return {}
    workspace = Path(state["workspace"])
    approved = ReviewRequest.model_validate(state["review"])
    change = await collect_change(workspace, state["base_sha"], deps.redact)
    if change.diff_hash != approved.diff_hash:
        raise TaskmasterError(
            ErrorKind.INVALID_INPUT,
            "The workspace changed after the review was requested, so nothing was pushed. "
            "Ask for changes to get a fresh review.",
        )
    if change.empty:
        raise TaskmasterError(ErrorKind.INVALID_INPUT, "There is no change to deliver.")
    if change.holds_a_secret:
        raise TaskmasterError(
            ErrorKind.INVALID_INPUT,
            "The change holds the value of one of TaskMaster's secrets, so nothing was "
            "pushed. Ask for changes to remove it.",
        )
    ticket = approved.ticket
    message = f"[{ticket.key}] {ticket.title}\n\n{state.get('summary', '')}".strip()
    await commit_tree(workspace, state["branch"], change.tree, state["base_sha"], message)
    sha = await deps.code_host.push(workspace, state["branch"])
    return {"pushed_sha": sha}


async def commit_tree(workspace: Path, branch: str, tree: str, base: str, message: str) -> str:
    """Point `branch` at a commit of exactly `tree` on `base`, and return the commit.

    Plumbing, not `git commit`: no index, hook, filter or config of the repository's
    takes part, so the commit holds the approved tree byte for byte. A commit an
    earlier try of this node made (killed before the push was recorded) is reused,
    so the retried push sends the same commit.
    """
    ref = f"refs/heads/{branch}"
    current = await git(
        "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=workspace, check=False
    )
    current = current.strip()
    if current and current != base:
        tree_and_parents = await git("show", "-s", "--format=%T %P", current, cwd=workspace)
        if tree_and_parents.split() == [tree, base]:
            return current
    commit = (await git("commit-tree", tree, "-p", base, "-m", message, cwd=workspace)).strip()
    await git("update-ref", ref, commit, cwd=workspace)
    return commit


async def open_pull_request(state: RunState, deps: Deps) -> Json:
    if state.get("pull_request"):
        return {}
    ticket = Ticket.model_validate(state["ticket"])
    pull_request = await deps.code_host.open_pull_request(
        branch=state["branch"],
        base=state["base_branch"],
        title=f"[{ticket.key}] {ticket.title}",
        body=pull_request_body(state),
    )
    emit(PullRequestOpened(pull_request=pull_request))
    return {"pull_request": pull_request.model_dump(mode="json")}


async def report(state: RunState, deps: Deps) -> Json:
    ticket = Ticket.model_validate(state["ticket"])
    pull_request = PullRequest.model_validate(state["pull_request"])
    update: Json = {}
    comment_id = state.get("ticket_comment_id")
    if not comment_id:
        comment_id = await deps.tickets.comment(ticket, pull_request)
        update["ticket_comment_id"] = comment_id
    transition = state.get("ticket_transition")
    if not transition:
        transition = await deps.tickets.transition(ticket)
        update["ticket_transition"] = transition
    if update:
        emit(TicketUpdated(ticket=ticket.key, comment_id=comment_id, transition=transition))
    return update


async def finish(state: RunState) -> Json:
    await _remove_workspace(state)
    emit(Step(name="deliver", status="done"))
    return {"outcome": "done"}


async def discard(state: RunState) -> Json:
    """Rejected: nothing was pushed; the workspace goes."""
    await _remove_workspace(state)
    return {"outcome": "rejected"}


async def _remove_workspace(state: RunState) -> None:
    if state.get("workspace"):
        await remove_workspace(Path(state["workspace"]))


def pull_request_body(state: RunState) -> str:
    ticket = Ticket.model_validate(state["ticket"])
    plan = Plan.model_validate(state["plan"])
    tests = TestResult.model_validate(state["tests"]) if state.get("tests") else None
    lines = [f"Resolves **{ticket.key}**: {ticket.title}"]
    if ticket.url:
        lines.append(f"Ticket: {ticket.url}")
    if state.get("thread_url"):
        lines.append(f"Discussion: {state['thread_url']}")
    lines += ["", "## Plan", plan.summary, ""]
    lines += [f"{number}. {step}" for number, step in enumerate(plan.steps, start=1)]
    if state.get("summary"):
        lines += ["", "## What changed", state["summary"]]
    test_line = f"`{tests.command}`: {tests.headline}" if tests else "no test command found"
    lines += ["", "## Tests", test_line, ""]
    usage = RunUsage.model_validate(state.get("usage") or {})
    if usage.calls:  # a model that reports usage (the scripted one does not)
        lines += [f"Model: {usage.model}, {usage.describe()}.", ""]
    decision = ReviewDecision.model_validate(state["decision"])
    lines.append(f"Approved in TaskMaster by {decision.who}.")
    return "\n".join(lines)
