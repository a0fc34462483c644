"""The Protocols every outside service sits behind (docs/architecture.md, Integrations).

Each has a real implementation and a local one; `agent.integrations.registry` picks
one by settings. Implementations raise `TaskmasterError` with a classified kind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from langchain_core.language_models import BaseChatModel

from agent.models import PullRequest, Ticket


class TicketSource(Protocol):
    """Where tickets come from, and where the result is reported back."""

    key_example: str
    """What a key looks like in this source, for help texts ("TASK-101", "#12")."""

    def parse_key(self, text: str) -> str:
        """The canonical key for what a person typed, or `invalid_input` saying what keys look like.

        Surfaces call it before a run is created, so only a key of this source reaches
        the registry, a URL, a file name or a branch.
        """
        ...

    async def fetch(self, key: str) -> Ticket:
        """The ticket; `ticket_not_found` when there is none with that key."""
        ...

    async def comment(self, ticket: Ticket, pull_request: PullRequest) -> str:
        """Link the pull request on the ticket and return the comment's id.

        Idempotent: a comment that already links this pull request is reused.
        """
        ...

    async def transition(self, ticket: Ticket) -> str | None:
        """Move the ticket to the configured status; the status's name, or None if none is set."""
        ...

    async def note(self, ticket: Ticket, text: str) -> str:
        """Leave a plain comment on the ticket (a rejection and its reason); its id."""
        ...


class CodeHost(Protocol):
    """Where the repository lives and where pull requests are opened."""

    async def clone(self, dest: Path) -> None:
        """Clone the repository into the empty folder `dest`, default branch checked out."""
        ...

    async def push(self, workspace: Path, branch: str) -> str:
        """Push `branch` from `workspace` and return the sha the remote now has."""
        ...

    async def find_pull_request(self, branch: str) -> PullRequest | None:
        """The open pull request whose head is `branch`, if one exists."""
        ...

    async def open_pull_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> PullRequest: ...


ModelFactory = Callable[[str], BaseChatModel]
"""Gives the chat model for one run, by ticket key (the scripted model reads one script per
key; a real provider's model is made once and shared, with its HTTP client)."""
