"""Ticket keys: each ticket source says which keys are its own (`TicketSource.parse_key`).

A key travels into URLs, file names, the run registry and a branch name, so the
ticket source checks what a person typed before anything starts, and `key_slug`
gives the one form of a key that may go into a git ref or a file name.
"""

from __future__ import annotations

import re

from agent.errors import ErrorKind, TaskmasterError
from agent.models import TICKET_KEY

JIRA_STYLE_EXAMPLE = "TASK-101"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def not_a_key(text: str, example: str) -> TaskmasterError:
    """The `invalid_input` a surface shows for something that is not a key of its source."""
    return TaskmasterError(
        ErrorKind.INVALID_INPUT,
        f"'{text.strip()[:40]}' is not a ticket key. Keys look like {example}.",
    )


def jira_style_key(text: str) -> str:
    """`TASK-101` from what a person typed (any case), for Jira and Markdown tickets."""
    key = text.strip().upper()
    if not TICKET_KEY.match(key):
        raise not_a_key(text, JIRA_STYLE_EXAMPLE)
    return key


def key_slug(key: str) -> str:
    """The key with everything but letters, digits, `_` and `-` made `-`: safe in a ref or a file.

    `TASK-101` stays itself; GitLab's `#12` becomes `12` and `group/app#12` `group-app-12`,
    so no `#`, `/` or `..` from a key ever reaches a branch name or a path.
    """
    slug = _UNSAFE.sub("-", key).strip("-")
    if not slug:
        raise TaskmasterError(ErrorKind.INVALID_INPUT, f"{key!r} is not a ticket key.")
    return slug
