"""Action ids, the modal's callback id, and what buttons carry (docs/architecture.md, Slack).

One module for listeners and block builders alike, so a renamed id cannot leave a
button that nothing listens to. Tests and the manifest rely on these exact names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

APPROVE = "taskmaster_approve"
REVISE = "taskmaster_revise"
REJECT = "taskmaster_reject"
CANCEL = "taskmaster_cancel"
RETRY = "taskmaster_retry"
START_ANYWAY = "taskmaster_start_anyway"
NEVER_MIND = "taskmaster_never_mind"
FEEDBACK_VIEW = "taskmaster_feedback"
REJECT_VIEW = "taskmaster_reject_reason"

REVIEW_ACTIONS = (APPROVE, REVISE, REJECT)

# The modals' inputs, read back from `view.state.values[block][action]`.
FEEDBACK_BLOCK = "feedback"
FEEDBACK_INPUT = "feedback_text"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_text"

# Block ids that code looks for again after posting.
REVIEW_ACTIONS_BLOCK = "review_actions"
ROOT_ACTIONS_BLOCK = "run_actions"
ASK_ACTIONS_BLOCK = "ask_actions"


@dataclass(frozen=True)
class ReviewRef:
    """Which review a button or modal answers: the run and its pending interrupt.

    The interrupt id makes a stale button (an older iteration) refusable, and with
    both in the button, clicks keep working after a restart without any lookup table.
    """

    run_id: str
    interrupt_id: str

    def encode(self) -> str:
        return f"{self.run_id}:{self.interrupt_id}"

    @classmethod
    def decode(cls, value: str) -> ReviewRef:
        run_id, sep, interrupt_id = value.partition(":")
        if not sep or not run_id or not interrupt_id:
            raise ValueError(f"not a review reference: {value[:80]!r}")
        return cls(run_id, interrupt_id)


@dataclass(frozen=True)
class FeedbackContext:
    """The modal's private_metadata: the review, and the message to mark once decided."""

    review: ReviewRef
    channel: str
    message_ts: str
    thread_ts: str | None = None  # the run's thread the review message is in

    def encode(self) -> str:
        return json.dumps(
            {
                "review": self.review.encode(),
                "channel": self.channel,
                "ts": self.message_ts,
                "thread": self.thread_ts,
            }
        )

    @classmethod
    def decode(cls, metadata: str) -> FeedbackContext:
        data = json.loads(metadata)
        thread = data.get("thread")
        return cls(
            ReviewRef.decode(str(data["review"])),
            str(data["channel"]),
            str(data["ts"]),
            str(thread) if thread else None,
        )
