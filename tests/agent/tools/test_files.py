"""The file tools on a real folder: what the model reads back, and what it is refused."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from agent.tools import files
from agent.tools.workspace import ToolError, Workspace


async def test_list_files_lists_recursively_sorted_without_git(ws: Workspace) -> None:
    listing = await files.list_files(ws)
    assert listing.splitlines() == [
        "README.md",
        "src/",
        "src/tasks/",
        "src/tasks/service.py",
    ]


async def test_list_files_lists_a_subfolder_with_root_relative_paths(ws: Workspace) -> None:
    assert await files.list_files(ws, "src/tasks") == "src/tasks/service.py"


async def test_list_files_does_not_expand_package_folders(repo: Path, ws: Workspace) -> None:
    (repo / "node_modules" / "left-pad").mkdir(parents=True)
    (repo / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1\n")
    listing = (await files.list_files(ws)).splitlines()
    assert "node_modules/ (not expanded; list it to see inside)" in listing
    assert not any("left-pad" in line for line in listing)
    assert await files.list_files(ws, "node_modules") == (
        "node_modules/left-pad/\nnode_modules/left-pad/index.js"
    )


async def test_list_files_caps_entries(repo: Path, ws: Workspace) -> None:
    many = repo / "many"
    many.mkdir()
    for index in range(files.MAX_LIST_ENTRIES + 10):
        (many / f"f{index:04}.txt").write_text("")
    listing = (await files.list_files(ws, "many")).splitlines()
    assert len(listing) == files.MAX_LIST_ENTRIES + 1
    assert listing[0] == "many/f0000.txt"
    assert "stopped after 500 entries" in listing[-1]


async def test_list_files_missing_path_is_an_error(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        await files.list_files(ws, "nope")


async def test_read_file_numbers_lines(ws: Workspace) -> None:
    text = await files.read_file(ws, "src/tasks/service.py")
    assert text.splitlines()[0] == "     1\tdef due(task):"
    assert text.splitlines()[-1] == "     6\t    return task.done"


async def test_read_file_range_is_inclusive_and_notes_the_rest(ws: Workspace) -> None:
    text = await files.read_file(ws, "src/tasks/service.py", start=2, end=3)
    assert text.splitlines() == [
        "     2\t    return task.due",
        "     3\t",
        "[showing lines 2-3 of 6; call read_file with start=4 to read more]",
    ]


async def test_read_file_range_past_the_end_is_an_error(ws: Workspace) -> None:
    with pytest.raises(
        ToolError, match=re.escape("past the end; 'src/tasks/service.py' has 6 lines")
    ):
        await files.read_file(ws, "src/tasks/service.py", start=9)
    with pytest.raises(ToolError, match="before start"):
        await files.read_file(ws, "src/tasks/service.py", start=3, end=2)


async def test_read_file_end_beyond_the_file_shows_to_the_end(ws: Workspace) -> None:
    text = await files.read_file(ws, "src/tasks/service.py", start=5, end=99)
    assert text.splitlines() == ["     5\tdef done(task):", "     6\t    return task.done"]


async def test_read_file_caps_long_files(repo: Path, ws: Workspace) -> None:
    (repo / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 1001)))
    lines = (await files.read_file(ws, "long.txt")).splitlines()
    assert len(lines) == files.MAX_READ_LINES + 1
    assert lines[-1] == (
        "[showing lines 1-400 of 1000; call read_file with start=401 to read more]"
    )


async def test_read_file_caps_characters(repo: Path, ws: Workspace) -> None:
    (repo / "wide.txt").write_text(("x" * 1000 + "\n") * 100)
    text = await files.read_file(ws, "wide.txt")
    assert len(text) <= files.MAX_READ_CHARS + 200
    assert "call read_file with start=" in text.splitlines()[-1]


async def test_read_file_refuses_binary(repo: Path, ws: Workspace) -> None:
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ToolError, match="binary"):
        await files.read_file(ws, "logo.png")


async def test_read_file_folder_is_an_error(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="is a folder"):
        await files.read_file(ws, "src")


async def test_search_code_reports_file_line_text(ws: Workspace) -> None:
    result = await files.search_code(ws, r"def d(ue|one)")
    assert result.splitlines() == [
        "src/tasks/service.py:1: def due(task):",
        "src/tasks/service.py:5: def done(task):",
    ]


async def test_search_code_in_one_file_and_no_matches(ws: Workspace) -> None:
    assert await files.search_code(ws, "return", "README.md") == (
        "no matches for 'return' in 'README.md'"
    )


async def test_search_code_skips_binaries_and_git(repo: Path, ws: Workspace) -> None:
    (repo / "blob.bin").write_bytes(b"\x00def due\n")
    result = await files.search_code(ws, "repositoryformatversion|def due")
    assert result == "src/tasks/service.py:1: def due(task):"


async def test_search_code_invalid_regex_is_an_error(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="invalid or unsupported regular expression"):
        await files.search_code(ws, "def (due")


async def test_search_code_caps_results(repo: Path, ws: Workspace) -> None:
    (repo / "many.txt").write_text("hit\n" * (files.MAX_SEARCH_RESULTS + 5))
    lines = (await files.search_code(ws, "hit")).splitlines()
    assert len(lines) == files.MAX_SEARCH_RESULTS + 1
    assert "stopped after 200 matches" in lines[-1]


async def test_write_file_creates_parents_and_counts_lines(repo: Path, ws: Workspace) -> None:
    reply = await files.write_file(ws, "src/tasks/new/util.py", "a = 1\nb = 2\n")
    assert reply == "created src/tasks/new/util.py (2 lines)"
    assert (repo / "src/tasks/new/util.py").read_text() == "a = 1\nb = 2\n"
    reply = await files.write_file(ws, "src/tasks/new/util.py", "a = 3")
    assert reply == "overwrote src/tasks/new/util.py (1 lines)"


async def test_write_file_to_a_folder_is_an_error(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="is a folder"):
        await files.write_file(ws, "src", "x")


async def test_edit_file_replaces_the_one_occurrence(repo: Path, ws: Workspace) -> None:
    reply = await files.edit_file(
        ws, "src/tasks/service.py", "    return task.due\n", "    return task.due_date\n"
    )
    assert reply == "edited src/tasks/service.py: replaced 1 lines with 1 lines"
    assert "return task.due_date\n" in (repo / "src/tasks/service.py").read_text()


async def test_edit_file_zero_matches_hints_at_rereading(repo: Path, ws: Workspace) -> None:
    before = (repo / "src/tasks/service.py").read_text()
    with pytest.raises(ToolError, match=r"not found.*read_file it again"):
        await files.edit_file(ws, "src/tasks/service.py", "return task.missing", "x")
    assert (repo / "src/tasks/service.py").read_text() == before


async def test_edit_file_multiple_matches_is_an_error(repo: Path, ws: Workspace) -> None:
    before = (repo / "src/tasks/service.py").read_text()
    with pytest.raises(ToolError, match="occurs 2 times"):
        await files.edit_file(ws, "src/tasks/service.py", "(task):", "(item):")
    assert (repo / "src/tasks/service.py").read_text() == before


async def test_edit_file_overlapping_matches_are_ambiguous(repo: Path, ws: Workspace) -> None:
    (repo / "a.txt").write_text("aaa\n")
    with pytest.raises(ToolError, match="occurs 2 times"):
        await files.edit_file(ws, "a.txt", "aa", "b")


async def test_edit_file_keeps_crlf_line_endings(repo: Path, ws: Workspace) -> None:
    (repo / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    await files.edit_file(ws, "win.txt", "one\ntwo\n", "one\n2\n")
    assert (repo / "win.txt").read_bytes() == b"one\r\n2\r\nthree\r\n"


async def test_edit_file_missing_file_is_an_error(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        await files.edit_file(ws, "nope.py", "a", "b")


async def test_search_code_is_linear_time_whatever_the_pattern(ws: Workspace) -> None:
    """`(a+)+$` takes exponential time in a backtracking engine on a line of a's and a b."""
    (ws.root / "big.txt").write_text(("a" * 5000 + "b\n") * 200)
    async with asyncio.timeout(1):
        answer = await files.search_code(ws, "(a+)+$", ".")
    assert answer == "no matches for '(a+)+$' in '.'"


async def test_search_code_explains_look_around_is_not_supported(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="without look-around or back-references"):
        await files.search_code(ws, r"(?<=def )due", ".")


async def test_a_file_over_the_size_limit_is_refused_and_nothing_is_written(
    ws: Workspace, repo: Path
) -> None:
    huge = "x" * (50 * 1024 * 1024)  # what a model once wrote: 50 MB

    with pytest.raises(ToolError, match=r"over the 1,000,000 bytes.*TASKMASTER_MAX_FILE_BYTES"):
        await files.write_file(ws, "data/huge.txt", huge, limit=1_000_000)
    assert not (repo / "data" / "huge.txt").exists()

    await files.write_file(ws, "small.txt", "fine\n", limit=1_000_000)
    with pytest.raises(ToolError, match="would be 2,000,005 bytes"):
        await files.edit_file(ws, "small.txt", "fine", "y" * 2_000_004, limit=1_000_000)
    assert (repo / "small.txt").read_text() == "fine\n"
