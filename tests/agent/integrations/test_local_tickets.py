"""LocalTicketSource over real Markdown files in a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations.local_tickets import LocalTicketSource, parse_front_matter, parse_ticket
from agent.models import PullRequest, Ticket

FULL = """\
---
type: Bug
priority: "High"
status: To Do
labels: [overdue, regression-risk]
components: models, service
---
# Tasks due today are reported as overdue

`overdue()` includes tasks due **today**.

## Steps

1. Add a task due today
2. Call overdue()

## Acceptance criteria

- [ ] A task due today is not overdue;
  a task due yesterday still is.
* [x] Completed tasks are never overdue.
1. A regression test covers it.

```python
# Not a heading
```

## Notes

- not a criterion
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    return tickets


@pytest.fixture
def source(folder: Path, tmp_path: Path) -> LocalTicketSource:
    return LocalTicketSource(folder, tmp_path / "data")


async def test_local_tickets_fetch_reads_front_matter_title_and_body(
    folder: Path, source: LocalTicketSource
) -> None:
    (folder / "TASK-101.md").write_text(FULL)

    ticket = await source.fetch("TASK-101")

    assert ticket.key == "TASK-101"
    assert ticket.title == "Tasks due today are reported as overdue"
    assert (ticket.type, ticket.priority, ticket.status) == ("Bug", "High", "To Do")
    assert ticket.labels == ("overdue", "regression-risk")
    assert ticket.components == ("models", "service")
    assert ticket.description.startswith("`overdue()` includes tasks due **today**.")
    assert "## Acceptance criteria" in ticket.description
    assert ticket.url == (folder / "TASK-101.md").resolve().as_uri()


async def test_local_tickets_fetch_extracts_acceptance_criteria(
    folder: Path, source: LocalTicketSource
) -> None:
    (folder / "TASK-101.md").write_text(FULL)

    ticket = await source.fetch("TASK-101")

    assert ticket.acceptance_criteria == (
        "A task due today is not overdue; a task due yesterday still is.",
        "Completed tasks are never overdue.",
        "A regression test covers it.",
    )


def test_parse_front_matter_accepts_dash_item_lists() -> None:
    fields, rest = parse_front_matter(
        "---\nlabels:\n  - api\n  - 'feature'\ncomponents: [service]\n---\n# T\n"
    )

    assert fields == {"labels": ["api", "feature"], "components": "[service]"}
    assert rest == "# T"


def test_parse_ticket_without_front_matter_or_title_uses_key() -> None:
    ticket = parse_ticket("TASK-7", "Just a body.\n\n### Acceptance Criteria:\n- one\n- two\n")

    assert ticket == Ticket(
        key="TASK-7",
        title="TASK-7",
        description="Just a body.\n\n### Acceptance Criteria:\n- one\n- two",
        acceptance_criteria=("one", "two"),
    )


def test_parse_ticket_criteria_end_at_same_or_higher_heading_only() -> None:
    text = "# T\n## Acceptance criteria\n- a\n### Detail\n- b\n## Next\n- c\n"

    assert parse_ticket("TASK-1", text).acceptance_criteria == ("a", "b")


def test_parse_ticket_without_criteria_heading_has_none() -> None:
    assert parse_ticket("TASK-1", "# T\n\n- a list\n").acceptance_criteria == ()


def test_parse_ticket_unclosed_front_matter_is_body() -> None:
    ticket = parse_ticket("TASK-1", "---\ntype: Bug\n# Title\n")

    assert (ticket.title, ticket.type) == ("Title", None)


async def test_local_tickets_fetch_missing_file_is_not_found(source: LocalTicketSource) -> None:
    with pytest.raises(TaskmasterError) as raised:
        await source.fetch("TASK-9")

    assert raised.value.kind is ErrorKind.TICKET_NOT_FOUND
    assert raised.value.message == "No ticket TASK-9 in tickets"


@pytest.mark.parametrize("key", ["../TASK-1", "task-1", "TASK-01", "TASK-1/../../x", ""])
async def test_local_tickets_fetch_malformed_key_is_invalid_input(
    folder: Path, source: LocalTicketSource, key: str
) -> None:
    (folder / "task-1.md").write_text("# lower-case file exists\n")

    with pytest.raises(TaskmasterError) as raised:
        await source.fetch(key)

    assert raised.value.kind is ErrorKind.INVALID_INPUT


async def test_local_tickets_comment_appends_once_per_pull_request(
    tmp_path: Path, source: LocalTicketSource
) -> None:
    ticket = Ticket(key="TASK-1", title="T")
    first = PullRequest(number=1, url="file:///r#pull-1", branch="taskmaster/TASK-1-t", title="T")
    second = first.model_copy(update={"number": 2, "url": "file:///r#pull-2"})

    a = await source.comment(ticket, first)
    again = await source.comment(ticket, first)
    b = await source.comment(ticket, second)

    lines = (tmp_path / "data" / "ticket_comments.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert again == a != b
    assert [e["pull_request"] for e in entries] == [first.url, second.url]
    assert entries[0]["id"] == a and entries[0]["ticket"] == "TASK-1"
    assert first.url in entries[0]["body"]


async def test_local_tickets_transition_is_none(source: LocalTicketSource) -> None:
    assert await source.transition(Ticket(key="TASK-1", title="T")) is None


async def test_a_ticket_file_that_is_not_utf8_is_read_with_replacements_and_a_note(
    tmp_path: Path,
) -> None:
    text = FULL.replace("today**.", "today** (caf\u00e9).")
    (tmp_path / "TASK-7.md").write_bytes(text.encode("latin-1"))

    ticket = await LocalTicketSource(tmp_path, tmp_path / "data").fetch("TASK-7")

    assert ticket.title == "Tasks due today are reported as overdue"
    assert "caf\ufffd" in ticket.description
    assert "not valid UTF-8" in ticket.description
