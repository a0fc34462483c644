"""The graph's checkpointed state.

Values are plain JSON (dicts from `model_dump(mode="json")`) except the conversation,
which LangGraph's serializer knows how to store. `messages` is the run's one growing
conversation with the model, from the plan call through every revision: its history
is what a restarted run continues from, and the scripted model reads its turn number
from it.

`messages` is a LangGraph `DeltaChannel`: a checkpoint stores only the messages its
step added (the step's writes), and the whole list only every `SNAPSHOT_EVERY`
updates; reading a checkpoint replays the writes since the last snapshot. Storing the
whole list at every step made a run's checkpoint bytes grow with the square of its
tool calls (200 MB for 300 calls; `bench/checkpoints.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.channels import DeltaChannel
from langgraph.graph.message import Messages, add_messages

Json = dict[str, Any]

# Updates of `messages` (two a turn) between full copies of the list. Replaying at most
# this many writes is cheap next to a model call; a copy costs the whole conversation,
# which `fit` bounds (TASKMASTER_CONTEXT_TOKENS), so a run of n turns writes at most
# n / (SNAPSHOT_EVERY / 2) copies of it.
SNAPSHOT_EVERY = 400


def add_message_batches(messages: Messages, batches: Sequence[Messages]) -> Messages:
    """`add_messages` over a batch of updates, in order (by id: a shortened message
    replaces its original). Folding in order is what `DeltaChannel` needs: replaying
    writes in one batch or several gives the same list."""
    for batch in batches:
        messages = add_messages(messages, batch)
    return messages


def conversation_channel() -> DeltaChannel[list[AnyMessage]]:
    """The `messages` channel as the graph declares it (for pruning, which rebuilds it)."""
    channel: DeltaChannel[list[AnyMessage]] = DeltaChannel(
        add_message_batches, list, snapshot_frequency=SNAPSHOT_EVERY
    )
    channel.key = "messages"
    return channel


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
    messages: Annotated[
        list[AnyMessage], DeltaChannel(add_message_batches, snapshot_frequency=SNAPSHOT_EVERY)
    ]
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
