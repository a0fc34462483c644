"""Tickets from a folder of Markdown files (docs/architecture.md, Integrations).

`<folder>/<KEY>.md`: optional front matter between `---` lines, then `# Title` and a
Markdown body. The front matter parser is a few lines on purpose: the format is ours,
flat `name: value` pairs, and a YAML dependency would accept far more than we use.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations.keys import JIRA_STYLE_EXAMPLE, jira_style_key
from agent.integrations.local_code_host import Entry, append_once
from agent.models import TICKET_KEY, PullRequest, Ticket

COMMENTS_FILE = "ticket_comments.jsonl"
LIST_FIELDS = ("labels", "components")
TEXT_FIELDS = ("type", "priority", "status")

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_CHECKBOX = re.compile(r"^\[[ xX]\]\s*")
_FENCE = re.compile(r"^\s*(```|~~~)")
_FIELD = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")


def parse_front_matter(text: str) -> tuple[dict[str, str | list[str]], str]:
    """The front matter's fields and the text after it (all of `text` if there is none)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        return {}, text  # an unclosed `---` is a thematic break, not front matter
    fields: dict[str, str | list[str]] = {}
    name: str | None = None
    for line in lines[1:end]:
        item = re.match(r"^\s*-\s+(.*)$", line)
        field = _FIELD.match(line)
        if item and name is not None:
            previous = fields.get(name)
            items = previous if isinstance(previous, list) else []
            fields[name] = [*items, _unquote(item.group(1))]
        elif field:
            name = field.group(1).lower()
            fields[name] = _unquote(field.group(2))
    return fields, "\n".join(lines[end + 1 :])


def _split_list(value: str | list[str]) -> tuple[str, ...]:
    """`[a, b]`, `a, b` or already a list of `- item` lines, as a tuple of strings."""
    if isinstance(value, list):
        return tuple(v for v in value if v)
    inner = value.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    return tuple(part for part in (_unquote(p) for p in inner.split(",")) if part)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].strip()
    return value


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, text) of each heading, skipping fenced code blocks."""
    found: list[tuple[int, int, str]] = []
    fenced = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            found.append((index, len(match.group(1)), match.group(2)))
    return found


def acceptance_criteria(markdown: str) -> tuple[str, ...]:
    """The list items under the "Acceptance criteria" heading, checkboxes stripped."""
    lines = markdown.splitlines()
    headings = _headings(lines)
    for position, (start, level, text) in enumerate(headings):
        if text.rstrip(":").strip().lower() != "acceptance criteria":
            continue
        end = next((i for i, lvl, _ in headings[position + 1 :] if lvl <= level), len(lines))
        return _list_items(lines[start + 1 : end])
    return ()


_TASK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[[ xX~]\]\s+(.*\S)\s*$")


def task_list(markdown: str) -> tuple[str, ...]:
    """The items of every task list (`- [ ] ...`, `- [x] ...`) outside code blocks."""
    items: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (task := _TASK.match(line)):
            items.append(task.group(1))
    return tuple(items)


def _list_items(lines: list[str]) -> tuple[str, ...]:
    items: list[str] = []
    for line in lines:
        bullet = _BULLET.match(line)
        if bullet:
            items.append(_CHECKBOX.sub("", bullet.group(1).strip()))
        elif items and line.startswith((" ", "\t")) and line.strip():
            items[-1] = f"{items[-1]} {line.strip()}"  # a wrapped item continues
    return tuple(item for item in items if item)


def parse_ticket(key: str, text: str, url: str | None = None) -> Ticket:
    """A `Ticket` from the text of `<KEY>.md`."""
    fields, body = parse_front_matter(text.lstrip("\ufeff"))
    lines = body.splitlines()
    heading = next(((i, text) for i, level, text in _headings(lines) if level == 1), None)
    if heading is None:
        title, description = key, body.strip()
    else:
        at, text = heading
        title = text or key
        description = "\n".join(lines[:at] + lines[at + 1 :]).strip()
    texts = {name: v for name in TEXT_FIELDS if isinstance(v := fields.get(name), str)}
    lists = {name: _split_list(fields[name]) for name in LIST_FIELDS if name in fields}
    return Ticket(
        key=key,
        title=title,
        description=description,
        type=texts.get("type") or None,
        priority=texts.get("priority") or None,
        status=texts.get("status") or None,
        labels=lists.get("labels", ()),
        components=lists.get("components", ()),
        acceptance_criteria=acceptance_criteria(description),
        url=url,
    )


class LocalTicketSource:
    """A `TicketSource` over `<folder>/<KEY>.md`; comments go to a JSON-lines file."""

    key_example = JIRA_STYLE_EXAMPLE

    def __init__(self, folder: Path, data_dir: Path) -> None:
        self.folder = folder
        self.comments_file = data_dir / COMMENTS_FILE

    def parse_key(self, text: str) -> str:
        return jira_style_key(text)

    async def fetch(self, key: str) -> Ticket:
        # The key becomes a file name: check it before it comes near the filesystem.
        if not TICKET_KEY.match(key):
            raise TaskmasterError(ErrorKind.INVALID_INPUT, f"{key!r} is not a ticket key.")
        try:
            text, url = await asyncio.to_thread(self._read, self.folder / f"{key}.md")
        except (FileNotFoundError, IsADirectoryError):
            raise TaskmasterError(
                ErrorKind.TICKET_NOT_FOUND, f"No ticket {key} in {self.folder.name}"
            ) from None
        return parse_ticket(key, text, url=url)

    @staticmethod
    def _read(path: Path) -> tuple[str, str]:
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="replace")
        if "\ufffd" in text and "\ufffd" not in raw.decode("utf-8", errors="ignore"):
            # Not UTF-8: read what can be read rather than refuse the ticket, and say so.
            text += (
                "\n\n[This ticket's file is not valid UTF-8; TaskMaster shows the bytes "
                "it could not read as \ufffd.]"
            )
        return text, path.resolve().as_uri()

    async def comment(self, ticket: Ticket, pull_request: PullRequest) -> str:
        def links(entry: Entry) -> bool:
            same_ticket = entry.get("ticket") == ticket.key
            return same_ticket and entry.get("pull_request") == pull_request.url

        def make(entries: list[Entry]) -> Entry:
            return {
                "id": str(len(entries) + 1),
                "ticket": ticket.key,
                "body": f"TaskMaster opened pull request #{pull_request.number}: "
                f"{pull_request.title} {pull_request.url}",
                "pull_request": pull_request.url,
            }

        entry = await asyncio.to_thread(append_once, self.comments_file, links, make)
        return str(entry["id"])

    async def transition(self, ticket: Ticket) -> str | None:
        return None  # local tickets have no workflow to move through

    async def note(self, ticket: Ticket, text: str) -> str:
        def same(entry: Entry) -> bool:
            return entry.get("ticket") == ticket.key and entry.get("body") == text

        def make(entries: list[Entry]) -> Entry:
            return {"id": str(len(entries) + 1), "ticket": ticket.key, "body": text}

        entry = await asyncio.to_thread(append_once, self.comments_file, same, make)
        return str(entry["id"])
