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

The few large values written once or twice a run (the ticket, the repository's
guide, the plan, the review) are `DeltaChannel`s too, keeping the latest write
(`written_once`): stored in the step that wrote them, not again in each of the
hundreds of checkpoints after it. Before a first write such a channel reads as an
empty value (`{}` or `""`), never as missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypedDict, get_type_hints

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


def latest(value: Any, writes: Sequence[Any]) -> Any:
    """The last write wins, as for a plain channel (batching-invariant, as `DeltaChannel`
    requires: folding writes in one batch or several keeps the same last one)."""
    return writes[-1] if writes else value


def written_once(kind: type[Any]) -> DeltaChannel[Any]:
    """A channel for a large value a run writes once or twice: kept in the writes of
    the step that set it, not copied into every later checkpoint. `snapshot_frequency=1`
    also stores it whole in that step's checkpoint, where reading stops its walk."""
    return DeltaChannel(latest, kind, snapshot_frequency=1)


def delta_channels() -> dict[str, DeltaChannel[Any]]:
    """Fresh copies of the state's `DeltaChannel`s by name, as the graph declares them
    (for pruning, which rebuilds their values into one whole checkpoint)."""
    channels = {}
    for name, hint in get_type_hints(RunState, include_extras=True).items():
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, DeltaChannel):
                channel = meta.copy()
                channel.key = name
                channels[name] = channel
    return channels


class RunState(TypedDict, total=False):
    run_id: str
    ticket_key: str
    ticket: Annotated[Json, written_once(dict)]
    # workspace
    workspace: str
    branch: str
    base_branch: str
    base_sha: str
    repo_guide: Annotated[str, written_once(str)]
    test_command: str | None
    repo_env: dict[str, str]  # the repository's `Environment:` variables for its commands
    # the work
    plan: Annotated[Json, written_once(dict)]
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
    review: Annotated[Json, written_once(dict)]
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
