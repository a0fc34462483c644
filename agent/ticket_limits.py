"""A ticket cut to what a run keeps: a title every service takes, a bounded description.

Tickets come from people and other systems: a 99 KB title would be refused by Slack
(`msg_too_long`), become a 99 KB pull-request title and sit in every checkpoint. So the
title is cut to `TITLE_CHARS` (Slack's texts, branch names, GitHub's 256 and GitLab's
255-character pull-request titles all take "[KEY] " plus that), and the description
to TASKMASTER_MAX_TICKET_CHARS, each saying so where it was cut.
"""

from __future__ import annotations

from agent.models import Ticket

TITLE_CHARS = 200
ELLIPSIS = "…"


def bounded(ticket: Ticket, max_chars: int) -> Ticket:
    """`ticket` with its title and description within the limits (itself if they are)."""
    title = " ".join(ticket.title.split())  # one line: no newline reaches a PR title
    if len(title) > TITLE_CHARS:
        title = title[: TITLE_CHARS - 1] + ELLIPSIS
    description = ticket.description
    if len(description) > max_chars:
        description = (
            description[:max_chars]
            + f"\n\n[TaskMaster kept the first {max_chars:,} of {len(ticket.description):,} "
            "characters of this ticket (TASKMASTER_MAX_TICKET_CHARS).]"
        )
    if title == ticket.title and description == ticket.description:
        return ticket
    return ticket.model_copy(update={"title": title, "description": description})
