"""The graph's checkpointed state.

Values are plain JSON (dicts from `model_dump(mode="json")`) except the conversation,
which LangGraph's serializer knows how to store. `messages` is the run's one growing
conversation with the model, from the plan call through every revision: its history
is what a restarted run continues from, and the scripted model reads its turn number
from it.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

Json = dict[str, Any]


class RunState(TypedDict, total=False):
    run_id: str
    ticket_key: str
    ticket: Json
    # workspace
    workspace: str
    branch: str
    base_branch: str
    base_sha: str
    repo_guide: str
    test_command: str | None
    repo_env: dict[str, str]  # the repository's `Environment:` variables for its commands
    # the work
    plan: Json
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int
    finished: bool
    summary: str
    tests: Json | None
    test_fixes: int
    heard: int  # the last note (a person's message to the run) the model was shown
    # the model's usage so far (`RunUsage`), and how much the provider's token counts
    # exceeded TaskMaster's estimate (at least 1), to keep requests under budget
    usage: Json
    token_scale: float
    # review
    iteration: int
    review: Json | None
    review_tree: str | None  # the tree the last review showed: the next shows what changed
    decision: Json | None
    rejection_comment_id: str | None
    # delivery: each outside effect, recorded as it happens so a retry skips it
    pushed_sha: str | None
    pull_request: Json | None
    ticket_comment_id: str | None
    ticket_transition: str | None
    outcome: str | None
    thread_url: str | None
