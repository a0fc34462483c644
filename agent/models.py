"""The domain's values, shared by the graph, the events, the integrations and the surfaces.

They are pydantic models at every boundary. Inside the graph's checkpointed state they
are stored as plain JSON (`model_dump(mode="json")`), because the checkpoint serializer
only round-trips types it knows.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TICKET_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,19}-[1-9][0-9]{0,8}$")

ReviewAction = Literal["approve", "revise", "reject"]
RunStatus = Literal[
    "running", "awaiting_review", "resuming", "done", "rejected", "cancelled", "failed"
]
ACTIVE_STATUSES: tuple[RunStatus, ...] = ("running", "awaiting_review", "resuming")
FinalStatus = Literal["done", "rejected", "cancelled", "failed"]
FINAL_STATUSES: tuple[FinalStatus, ...] = ("done", "rejected", "cancelled", "failed")


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ticket(Model):
    """A ticket as the agent sees it, whatever system it came from."""

    key: str
    title: str
    description: str = ""
    type: str | None = None
    priority: str | None = None
    status: str | None = None
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    acceptance_criteria: tuple[str, ...] = ()
    url: str | None = None


class Plan(Model):
    summary: str
    modules: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()


class TestResult(Model):
    """One run of the repository's test command."""

    __test__ = False  # not a pytest test class

    command: str
    ok: bool
    passed: int = 0
    failed: int = 0
    errors: int = 0
    exit_code: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    output_tail: str = ""
    # Plain words for a sandbox limit the command ran into ("the tests used more than...").
    limit: str = ""

    @property
    def headline(self) -> str:
        if self.timed_out:
            line = f"timed out after {self.duration:.0f}s"
        else:
            counts = f"{self.passed} passed, {self.failed} failed"
            if self.errors:
                counts += f", {self.errors} errors"
            line = counts if self.ok else f"{counts} (exit {self.exit_code})"
        return f"{line}: {self.limit}" if self.limit else line


class FileStat(Model):
    path: str
    added: int
    removed: int
    status: Literal["added", "modified", "removed", "renamed"] = "modified"


class ReviewRequest(Model):
    """What a person needs to decide; the value of the review interrupt."""

    ticket: Ticket
    plan: Plan
    iteration: int
    revisions_left: int
    diff: str
    diff_hash: str
    files: tuple[FileStat, ...]
    tests: TestResult | None
    touches_tests: bool
    summary: str = ""
    # What people must not miss: how the tests ran (sandbox off, network on) and
    # changes a diff hides (CI workflows, executable bits, binaries...), in plain words.
    warnings: tuple[str, ...] = ()
    # From review 2 on: what changed since the review before it (a diff between the two
    # reviewed trees), so a reviewer need not read the whole change again.
    since_last: str | None = None
    # Set when `diff` was cut to TASKMASTER_MAX_REVIEW_DIFF_BYTES: the whole diff's size
    # in bytes (the approval hash still covers the whole change).
    diff_bytes: int | None = None

    @property
    def diff_note(self) -> str:
        """What a surface says when the diff it shows is not the whole change."""
        if self.diff_bytes is None:
            return ""
        return (
            f"The diff is {self.diff_bytes / 1e6:.1f} MB; this review carries its first "
            f"{len(self.diff.encode()) / 1e6:.1f} MB (TASKMASTER_MAX_REVIEW_DIFF_BYTES). "
            "The file list above is the whole change."
        )


class ReviewDecision(Model):
    """The resume value of the review interrupt."""

    action: ReviewAction
    by: str
    feedback: str = Field("", max_length=4000)
    by_name: str = ""  # how to name the person where their id means nothing (a pull request)

    @property
    def who(self) -> str:
        return self.by_name or self.by


class Note(Model):
    """A person's words for a running run (a reply in its Slack thread, say).

    The run hands them to the model at its next turn; `id` orders them and lets the
    graph's state remember which ones the model has been shown.
    """

    id: int
    by: str
    by_name: str = ""
    text: str

    @property
    def who(self) -> str:
        return self.by_name or self.by


class PullRequest(Model):
    number: int
    url: str
    branch: str
    title: str
