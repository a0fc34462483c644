"""The file tools of the implement loop: list, read, search, write, edit.

Each tool takes the run's `Workspace` and returns text for the model. Mistakes the
model can correct (a wrong path, an ambiguous edit) are raised as `ToolError` and
turned into an error reply by the dispatcher. The filesystem work runs in a thread
so a large repository never stalls the event loop that also serves Slack.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import re2

from agent.tools.workspace import GIT_DIR, ToolError, Workspace

MAX_LIST_ENTRIES = 500
MAX_READ_LINES = 400
MAX_READ_CHARS = 40_000
MAX_LINE_CHARS = 2_000
MAX_SEARCH_RESULTS = 200
MAX_MATCH_CHARS = 200
# RE2's budget for one compiled pattern; a pattern needing more is refused as too costly.
SEARCH_PATTERN_MEMORY = 8 << 20
# Files larger than this are almost always generated or data; reading them whole
# would flood the model's context and the process's memory.
MAX_FILE_BYTES = 5_000_000
SNIFF_BYTES = 8_192
# Folders of tools' caches and installed packages: listed, never expanded or searched,
# so they cannot crowd the repository's own files out of the capped results.
NOT_EXPANDED = frozenset(
    {
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)

EntryKind = Literal["file", "dir", "link", "unexpanded", "special"]


@contextmanager
def _os_errors(shown: str) -> Iterator[None]:
    """Turn filesystem errors into messages the model can act on."""
    try:
        yield
    except FileNotFoundError:
        raise ToolError(f"'{shown}' does not exist; use list_files to see what exists") from None
    except IsADirectoryError:
        raise ToolError(f"'{shown}' is a folder; use list_files to see what is in it") from None
    except NotADirectoryError:
        raise ToolError(f"a parent of '{shown}' is a file, not a folder") from None
    except OSError as exc:
        raise ToolError(f"'{shown}': {exc.strerror or exc}") from None


def _walk(top: Path) -> Iterator[tuple[Path, EntryKind]]:
    """Entries under `top`, depth first in name order, never into `.git` or through symlinks."""
    try:
        with os.scandir(top) as it:
            children = sorted(it, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in children:
        if entry.name.lower() == GIT_DIR:
            continue
        path = Path(entry.path)
        if entry.is_symlink():
            # Not followed: a symlink may point outside the workspace. One that stays
            # inside is reachable by its own path anyway.
            yield path, "link"
        elif entry.is_dir():
            if entry.name in NOT_EXPANDED:
                yield path, "unexpanded"
            else:
                yield path, "dir"
                yield from _walk(path)
        elif entry.is_file(follow_symlinks=False):
            yield path, "file"
        else:
            # A FIFO, socket or device (the tests may leave one): opening it could block.
            yield path, "special"


def _lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines also splits on form feeds and other
    # separators, which would make the numbers disagree with editors and diffs.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _line_count(text: str) -> int:
    return len(_lines(text)) if text else 0


def _read_regular(path: Path, shown: str) -> bytes:
    """The bytes of a regular file: opened without blocking (a FIFO would wait for a
    writer for ever) and without following a last symlink, then checked."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ToolError(f"'{shown}' is not a regular file (a FIFO, socket or device)")
        if info.st_size > MAX_FILE_BYTES:
            raise ToolError(f"'{shown}' is larger than {MAX_FILE_BYTES} bytes; search it instead")
        return file.read(MAX_FILE_BYTES + 1)


def _read_text(path: Path, shown: str) -> str:
    with _os_errors(shown):
        data = _read_regular(path, shown)
    if b"\0" in data[:SNIFF_BYTES]:
        raise ToolError(f"'{shown}' is a binary file; the tools read and edit text files only")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(
            f"'{shown}' is not UTF-8 text; the tools read and edit UTF-8 text files only"
        ) from None


def _write_text(path: Path, shown: str, content: str, limit: int | None = None) -> None:
    size = len(content.encode("utf-8", "surrogatepass"))
    if limit is not None and size > limit:
        raise ToolError(
            f"'{shown}' would be {size:,} bytes, over the {limit:,} bytes a file may have "
            "(TASKMASTER_MAX_FILE_BYTES); nothing was written. Write a smaller file, or "
            "generate large data in the tests instead of storing it"
        )
    with _os_errors(shown):
        path.parent.mkdir(parents=True, exist_ok=True)
        # newline="" writes the text exactly as given (no line ending translation).
        with path.open("w", encoding="utf-8", newline="") as file:
            file.write(content)


def _existing(ws: Workspace, path: str) -> Path:
    target = ws.resolve(path)
    if not target.exists():
        raise ToolError(f"'{path}' does not exist; use list_files to see what exists")
    return target


def _list(ws: Workspace, path: str) -> str:
    target = _existing(ws, path)
    if not target.is_dir():
        return ws.relative(target)
    shown: list[str] = []
    for entry, kind in _walk(target):
        if len(shown) == MAX_LIST_ENTRIES:
            shown.append(
                f"[stopped after {MAX_LIST_ENTRIES} entries; list a subfolder to see more]"
            )
            break
        rel = ws.relative(entry)
        if kind == "dir":
            shown.append(f"{rel}/")
        elif kind == "unexpanded":
            shown.append(f"{rel}/ (not expanded; list it to see inside)")
        elif kind == "link":
            shown.append(f"{rel} (symlink)")
        elif kind == "special":
            shown.append(f"{rel} (not a regular file)")
        else:
            shown.append(rel)
    return "\n".join(shown) if shown else f"'{ws.relative(target)}' is an empty folder"


def _read(ws: Workspace, path: str, start: int | None, end: int | None) -> str:
    target = ws.resolve(path)
    lines = _lines(_read_text(target, path))
    total = len(lines)
    if total == 0:
        return f"'{path}' is empty"
    first = 1 if start is None else start
    if first < 1:
        raise ToolError("start must be 1 or more (lines are numbered from 1)")
    if first > total:
        raise ToolError(f"start={first} is past the end; '{path}' has {total} lines")
    if end is not None and end < first:
        raise ToolError(f"end={end} is before start={first}")
    last = min(end or total, total, first + MAX_READ_LINES - 1)
    shown: list[str] = []
    size = 0
    shown_last = first - 1
    for number in range(first, last + 1):
        line = lines[number - 1].rstrip("\r")
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " [... rest of line cut]"
        entry = f"{number:>6}\t{line}"
        if shown and size + len(entry) > MAX_READ_CHARS:
            break
        shown.append(entry)
        size += len(entry) + 1
        shown_last = number
    if shown_last < total:
        shown.append(
            f"[showing lines {first}-{shown_last} of {total}; "
            f"call read_file with start={shown_last + 1} to read more]"
        )
    return "\n".join(shown)


def _compile(pattern: str) -> re2._Regexp:
    """RE2, not `re`: matching time is linear in the text whatever the pattern, so a
    pattern like `(a+)+$` cannot stall the thread (and the process with it)."""
    options = re2.Options()
    options.log_errors = False  # the error comes back to the model, not to stderr
    options.max_mem = SEARCH_PATTERN_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else "not valid"
        detail = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        raise ToolError(
            f"invalid or unsupported regular expression {pattern!r}: {detail} (the search "
            "uses RE2 syntax: like Python's, without look-around or back-references)"
        ) from None


def _search(ws: Workspace, pattern: str, path: str) -> str:
    regex = _compile(pattern)
    target = _existing(ws, path)
    candidates = (
        [target] if target.is_file() else (p for p, kind in _walk(target) if kind == "file")
    )
    results: list[str] = []
    for file in candidates:
        try:
            data = _read_regular(file, ws.relative(file))
        except (OSError, ToolError):
            continue
        if b"\0" in data[:SNIFF_BYTES]:
            continue
        rel = ws.relative(file)
        for number, line in enumerate(_lines(data.decode("utf-8", errors="replace")), 1):
            if regex.search(line):
                if len(results) == MAX_SEARCH_RESULTS:
                    results.append(
                        f"[stopped after {MAX_SEARCH_RESULTS} matches; "
                        "narrow the pattern or the path]"
                    )
                    return "\n".join(results)
                results.append(f"{rel}:{number}: {line.strip()[:MAX_MATCH_CHARS]}")
    if not results:
        return f"no matches for {pattern!r} in '{ws.relative(target)}'"
    return "\n".join(results)


def _write(ws: Workspace, path: str, content: str, limit: int | None = None) -> str:
    target = ws.resolve(path)
    if target.is_dir():
        raise ToolError(f"'{path}' is a folder; give the path of a file")
    existed = target.exists()
    _write_text(target, path, content, limit)
    verb = "overwrote" if existed else "created"
    return f"{verb} {ws.relative(target)} ({_line_count(content)} lines)"


def _occurrences(text: str, old: str) -> int:
    # Overlapping matches count too: "aa" in "aaa" is ambiguous, not unique.
    count = 0
    index = text.find(old)
    while index != -1:
        count += 1
        index = text.find(old, index + 1)
    return count


def _edit(ws: Workspace, path: str, old: str, new: str, limit: int | None = None) -> str:
    if not old:
        raise ToolError(
            "old is empty; give the exact text to replace (use write_file for new files)"
        )
    if old == new:
        raise ToolError("old and new are the same; nothing would change")
    target = ws.resolve(path)
    text = _read_text(target, path)
    if "\r\n" in text and "\r" not in old:
        # The model reads lines without their "\r"; match a CRLF file in its own endings.
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
    count = _occurrences(text, old)
    if count == 0:
        raise ToolError(
            f"old text not found in '{path}'; read_file it again and copy the text exactly, "
            "including indentation (without the line numbers)"
        )
    if count > 1:
        raise ToolError(
            f"old text occurs {count} times in '{path}'; "
            "include more surrounding lines so it matches exactly once"
        )
    _write_text(target, path, text.replace(old, new, 1), limit)
    return (
        f"edited {ws.relative(target)}: replaced {_line_count(old)} lines "
        f"with {_line_count(new)} lines"
    )


async def list_files(ws: Workspace, path: str = ".") -> str:
    """Files and folders under `path`, recursively, relative to the repository root."""
    return await asyncio.to_thread(_list, ws, path)


async def read_file(
    ws: Workspace, path: str, start: int | None = None, end: int | None = None
) -> str:
    """Numbered lines `start`..`end` (1-based, inclusive) of a text file, capped in size."""
    return await asyncio.to_thread(_read, ws, path, start, end)


async def search_code(ws: Workspace, pattern: str, path: str = ".") -> str:
    """`file:line: text` for each line under `path` matching the regular expression."""
    return await asyncio.to_thread(_search, ws, pattern, path)


async def write_file(ws: Workspace, path: str, content: str, *, limit: int | None = None) -> str:
    """Create or overwrite a file (and its parent folders) with `content`, refused past
    `limit` bytes (a file that large would fill the review, the database and memory)."""
    return await asyncio.to_thread(_write, ws, path, content, limit)


async def edit_file(
    ws: Workspace, path: str, old: str, new: str, *, limit: int | None = None
) -> str:
    """Replace the one occurrence of `old` in a file with `new` (refused past `limit`)."""
    return await asyncio.to_thread(_edit, ws, path, old, new, limit)
