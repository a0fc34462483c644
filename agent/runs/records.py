"""The run registry's records and the one Protocol every registry implements.

The lifecycle (`RunManager`) and the surfaces see runs only through `RunRegistry`;
which database holds them (SQLite for one process, PostgreSQL for many) is chosen by
settings in `agent/integrations/registry.py`, so no database detail leaks past its
implementation. Every implementation decides races in the database itself: one
active run per ticket, exactly one winner per review decision, one driver per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agent.models import ACTIVE_STATUSES, Note, PullRequest, ReviewDecision, RunStatus
from agent.usage import RunUsage


@dataclass(frozen=True)
class RunRecord:
    """One row of the registry."""

    run_id: str
    ticket: str
    requester: str
    status: RunStatus
    interrupt_id: str | None
    decision: ReviewDecision | None
    error: str | None
    created_at: str
    updated_at: str
    title: str | None = None
    cancelled_by: str | None = None
    owner: str | None = None  # the process driving the run, while its lease lasts
    lease_until: float | None = None
    pull_request: PullRequest | None = None  # what a delivered run opened
    usage: RunUsage | None = None  # the model's tokens (and cost) so far
    worked_s: float = 0.0  # seconds spent working, not waiting for a slot or a review

    @property
    def delivering(self) -> bool:
        """Approved and being delivered: past the point where it can be cancelled."""
        return self.active and self.decision is not None and self.decision.action == "approve"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ticket": self.ticket,
            "title": self.title,
            "status": self.status,
            "requester": self.requester,
            "decided_by": self.decision.by if self.decision else None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "pull_request": self.pull_request.url if self.pull_request else None,
            "usage": self.usage.model_dump(mode="json") if self.usage else None,
            "worked_minutes": round(self.worked_s / 60, 2),
        }

    @classmethod
    def from_columns(cls, data: Mapping[str, Any]) -> RunRecord:
        """A record from a row's columns by name (JSON columns still as text)."""
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        decision = fields.pop("decision", None)
        pull_request = fields.pop("pull_request", None)
        usage = fields.pop("usage", None)
        return cls(
            **fields,
            decision=ReviewDecision.model_validate_json(decision) if decision else None,
            pull_request=PullRequest.model_validate_json(pull_request) if pull_request else None,
            usage=RunUsage.model_validate_json(usage) if usage else None,
        )


class TicketBusy(Exception):
    """A run for this ticket is already active; carries that run."""

    def __init__(self, run: RunRecord) -> None:
        super().__init__(f"{run.ticket} already has an active run ({run.run_id})")
        self.run = run


HolderAlive = Callable[[str], bool]


class RunRegistry(Protocol):
    """The runs, their decisions, leases and notes; each decisive change is one
    conditional update the database decides (see docs/architecture.md, Runs)."""

    async def close(self) -> None: ...

    async def create(self, ticket: str, requester: str) -> RunRecord:
        """Insert a new running run, or raise `TicketBusy` with the ticket's active run."""
        ...

    async def get(self, run_id: str) -> RunRecord | None: ...

    async def require(self, run_id: str) -> RunRecord: ...

    async def active_for(self, ticket: str) -> RunRecord | None: ...

    async def latest_for(self, ticket: str) -> RunRecord | None: ...

    async def delivered_for(self, ticket: str) -> list[RunRecord]: ...

    async def recent(self, *, active_only: bool = False, limit: int = 100) -> list[RunRecord]: ...

    async def with_status(self, *statuses: RunStatus) -> list[RunRecord]: ...

    async def transition(
        self,
        run_id: str,
        to: RunStatus,
        *,
        only_from: Sequence[RunStatus] | None = None,
        interrupt_id: str | None = None,
        error: str | None = None,
        keep_interrupt: bool = False,
    ) -> bool:
        """Set the status (optionally only from given statuses); True if this call did.

        `keep_interrupt` leaves `interrupt_id` as it is: the review a claimed decision
        answers stays known until the run pauses again, so a run killed before the
        decision reached the checkpoint applies it when continued.
        """
        ...

    async def cancel(self, run_id: str, by: str) -> bool: ...

    async def take_lease(
        self, run_id: str, owner: str, seconds: float, holder_alive: HolderAlive
    ) -> bool: ...

    async def renew_lease(self, run_id: str, owner: str, seconds: float) -> None: ...

    async def release_lease(self, run_id: str, owner: str) -> None: ...

    async def set_usage(self, run_id: str, usage: RunUsage) -> None: ...

    async def set_worked(self, run_id: str, seconds: float) -> None: ...

    async def set_title(self, run_id: str, title: str) -> None: ...

    async def claim_review(
        self, run_id: str, interrupt_id: str, decision: ReviewDecision
    ) -> bool: ...

    async def set_pull_request(self, run_id: str, pull_request: PullRequest) -> None: ...

    async def add_note(self, run_id: str, by: str, by_name: str, text: str) -> Note: ...

    async def notes_after(self, run_id: str, after: int) -> list[Note]: ...
