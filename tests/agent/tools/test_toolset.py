"""The tool set as the model sees it, and `execute` turning every call into an outcome."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from agent.tools.toolset import (
    IMPLEMENT_TOOLS,
    EditFile,
    Finish,
    ListFiles,
    ReadFile,
    RunTests,
    SearchCode,
    ToolContext,
    WriteFile,
    execute,
)


@pytest.mark.parametrize(
    ("tool", "name"),
    [
        (ListFiles, "list_files"),
        (ReadFile, "read_file"),
        (SearchCode, "search_code"),
        (WriteFile, "write_file"),
        (EditFile, "edit_file"),
        (RunTests, "run_tests"),
        (Finish, "finish"),
    ],
)
def test_tool_name_is_snake_case(tool: type[BaseModel], name: str) -> None:
    function = convert_to_openai_tool(tool)["function"]
    assert function["name"] == name
    assert function["description"]


def test_implement_tools_lists_every_tool_once() -> None:
    names = [convert_to_openai_tool(tool)["function"]["name"] for tool in IMPLEMENT_TOOLS]
    assert names == [
        "list_files",
        "read_file",
        "search_code",
        "write_file",
        "edit_file",
        "run_tests",
        "finish",
    ]


async def test_execute_unknown_tool_is_an_error_outcome(ctx: ToolContext) -> None:
    outcome = await execute("delete_everything", {}, ctx)
    assert outcome.error
    assert outcome.content.startswith("Error: unknown tool 'delete_everything'")
    assert "list_files" in outcome.content


async def test_execute_invalid_arguments_is_an_error_outcome(ctx: ToolContext) -> None:
    outcome = await execute("read_file", {"path": "README.md", "start": 0}, ctx)
    assert outcome.error
    assert outcome.content.startswith("Error: invalid arguments for read_file: start:")
    missing = await execute("edit_file", {"path": "README.md", "old": "# Tasks"}, ctx)
    assert missing.error
    assert "new: Field required" in missing.content
    extra = await execute("list_files", {"path": ".", "recursive": True}, ctx)
    assert extra.error
    assert "recursive" in extra.content


async def test_execute_read_file_reports_a_line(ctx: ToolContext) -> None:
    outcome = await execute("read_file", {"path": "src/tasks/service.py", "end": 1}, ctx)
    assert not outcome.error
    assert outcome.content.startswith("     1\tdef due(task):")
    assert outcome.line == "reading src/tasks/service.py"


async def test_execute_edit_file_changes_the_file(ctx: ToolContext, repo: Path) -> None:
    args: dict[str, object] = {
        "path": "src/tasks/service.py",
        "old": "return task.done",
        "new": "return bool(task.done)",
    }
    outcome = await execute("edit_file", args, ctx)
    assert not outcome.error
    assert outcome.line == "edited src/tasks/service.py"
    assert "return bool(task.done)" in (repo / "src/tasks/service.py").read_text()


async def test_execute_edit_file_zero_matches_is_an_error_outcome(ctx: ToolContext) -> None:
    args: dict[str, object] = {"path": "README.md", "old": "nothing like it", "new": "x"}
    outcome = await execute("edit_file", args, ctx)
    assert outcome.error
    assert outcome.content.startswith("Error: old text not found in 'README.md'")
    assert outcome.line.startswith("edit_file: old text not found")


async def test_execute_search_code_invalid_regex_is_an_error_outcome(ctx: ToolContext) -> None:
    outcome = await execute("search_code", {"pattern": "def (due"}, ctx)
    assert outcome.error
    assert outcome.content.startswith("Error: invalid or unsupported regular expression 'def (due'")


async def test_execute_search_code_line_names_the_pattern(ctx: ToolContext) -> None:
    outcome = await execute("search_code", {"pattern": "def due"}, ctx)
    assert outcome.line == "searching for 'def due'"
    assert outcome.content == "src/tasks/service.py:1: def due(task):"


async def test_execute_write_file_line(ctx: ToolContext, repo: Path) -> None:
    outcome = await execute("write_file", {"path": "NOTES.md", "content": "hi\n"}, ctx)
    assert outcome == dataclasses.replace(outcome, line="wrote NOTES.md", error=False)
    assert (repo / "NOTES.md").read_text() == "hi\n"


async def test_execute_run_tests_without_command_is_an_error_outcome(ctx: ToolContext) -> None:
    outcome = await execute("run_tests", {}, ctx)
    assert outcome.error
    assert outcome.test_result is None
    assert "no test command is configured" in outcome.content


async def test_execute_run_tests_runs_the_command(ctx: ToolContext, repo: Path) -> None:
    (repo / "test_service.py").write_text(
        "from src.tasks.service import due\n\n\n"
        "def test_due():\n    assert due(type('T', (), {'due': 3})) == 3\n"
    )
    (repo / "src" / "__init__.py").write_text("")
    (repo / "src" / "tasks" / "__init__.py").write_text("")
    context = dataclasses.replace(ctx, test_command="python -m pytest -q")
    outcome = await execute("run_tests", {}, context)
    assert not outcome.error
    assert outcome.test_result is not None
    assert outcome.test_result.ok, outcome.test_result.output_tail
    assert outcome.line == "running tests: 1 passed, 0 failed"
    assert outcome.content.startswith("Tests passed: 1 passed, 0 failed\n")


async def test_execute_run_tests_failure_is_data_not_error(ctx: ToolContext) -> None:
    context = dataclasses.replace(ctx, test_command="echo 'E   assert 2 == 3'; exit 1")
    outcome = await execute("run_tests", {}, context)
    assert not outcome.error
    assert outcome.test_result is not None
    assert not outcome.test_result.ok
    assert outcome.content == "Tests failed: 0 passed, 0 failed (exit 1)\nE   assert 2 == 3\n"


async def test_execute_finish_returns_the_summary(ctx: ToolContext) -> None:
    outcome = await execute("finish", {"summary": "Added due dates.\nTests updated."}, ctx)
    assert outcome.finished
    assert outcome.summary == "Added due dates.\nTests updated."
    assert outcome.line == "finished: Added due dates."
    assert not outcome.error


async def test_execute_finish_needs_a_summary(ctx: ToolContext) -> None:
    outcome = await execute("finish", {"summary": ""}, ctx)
    assert outcome.error
    assert not outcome.finished
