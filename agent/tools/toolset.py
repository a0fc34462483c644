"""The implement loop's tools as the model sees them, and the dispatcher that runs a call.

Each tool is a pydantic model: its schema is what `bind_tools` sends, its docstring is
the description the model reads, and the schema title (set explicitly, because
LangChain names a pydantic tool after it) is the tool's name. Every outcome, including
a bad call, comes back as data so the model can correct itself; nothing here raises
for the model's mistakes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.models import TestResult
from agent.sandbox.base import Sandbox
from agent.tools import files
from agent.tools.test_runner import run_command
from agent.tools.workspace import ToolError, Workspace

# The model reads test output to fix what broke; the end of it says what failed, and
# more than this would crowd the rest of the conversation out of its context.
MODEL_TEST_OUTPUT_CHARS = 20_000
LINE_CHARS = 120


def _tool(name: str) -> ConfigDict:
    # `title` becomes the tool name in `convert_to_openai_tool`; forbidding extra
    # arguments tells the model about a misspelt one instead of ignoring it.
    return ConfigDict(title=name, extra="forbid")


class ListFiles(BaseModel):
    """List the files and folders under a folder of the repository, recursively.

    Paths are relative to the repository root. Folders end with "/".
    """

    model_config = _tool("list_files")

    path: str = Field(".", description="Folder relative to the repository root.")


class ReadFile(BaseModel):
    """Read a text file of the repository, with line numbers.

    Lines are numbered from 1; start and end are inclusive. Long files are shown in
    parts, with a note saying how to read the rest. The numbers are not part of the file.
    """

    model_config = _tool("read_file")

    path: str = Field(description="File path relative to the repository root.")
    start: int | None = Field(None, ge=1, description="First line to show (default 1).")
    end: int | None = Field(None, ge=1, description="Last line to show (default: as many as fit).")


class SearchCode(BaseModel):
    """Search the repository's text files for a regular expression, line by line.

    The syntax is RE2's: like Python's, without look-around or back-references.
    Answers with `path:line: text` for each matching line. Use (?i) to ignore case.
    """

    model_config = _tool("search_code")

    pattern: str = Field(description="Regular expression (RE2 syntax), e.g. 'def due_date'.")
    path: str = Field(".", description="File or folder to search, relative to the root.")


class WriteFile(BaseModel):
    """Create a file, or replace a file's whole content. Parent folders are created.

    For a small change to an existing file, edit_file is safer.
    """

    model_config = _tool("write_file")

    path: str = Field(description="File path relative to the repository root.")
    content: str = Field(description="The complete new content of the file.")


class EditFile(BaseModel):
    """Replace one exact piece of text in a file with new text.

    `old` must occur exactly once in the file, character for character, including
    indentation (copy it from read_file without the line numbers). Include enough
    surrounding lines to make it unique.
    """

    model_config = _tool("edit_file")

    path: str = Field(description="File path relative to the repository root.")
    old: str = Field(min_length=1, description="The exact text to replace.")
    new: str = Field(description="The text to put in its place.")


class RunTests(BaseModel):
    """Run the repository's test suite and see the result and the end of its output."""

    model_config = _tool("run_tests")


class Finish(BaseModel):
    """Say the change is complete. Call it once, after run_tests passes (if there are tests)."""

    model_config = _tool("finish")

    summary: str = Field(
        min_length=1, description="What was changed and why, for the reviewer, in a few lines."
    )


IMPLEMENT_TOOLS: list[type[BaseModel]] = [
    ListFiles,
    ReadFile,
    SearchCode,
    WriteFile,
    EditFile,
    RunTests,
    Finish,
]
_BY_NAME: dict[str, type[BaseModel]] = {
    str(tool.model_config.get("title")): tool for tool in IMPLEMENT_TOOLS
}


def _as_is(text: str) -> str:
    return text


@dataclass
class ToolContext:
    """What the tools of one run need: its workspace, and how and where to run its tests."""

    workspace: Workspace
    test_command: str | None
    sandbox: Sandbox
    test_timeout: float
    # The repository's own variables (`Environment:` in .taskmaster.md).
    test_env: Mapping[str, str] = field(default_factory=dict)
    # Applied to everything a tool returns: a secret's value never reaches the model.
    redact: Callable[[str], str] = _as_is
    # The largest file write_file and edit_file may leave (TASKMASTER_MAX_FILE_BYTES).
    max_file_bytes: int = 4_000_000


@dataclass(frozen=True)
class ToolOutcome:
    """The result of one tool call: `content` for the model, `line` for people watching."""

    content: str
    line: str
    finished: bool = False
    summary: str = ""
    test_result: TestResult | None = None
    error: bool = False


def _short(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= LINE_CHARS else first[: LINE_CHARS - 1] + "…"


def _error(name: str, message: str) -> ToolOutcome:
    return ToolOutcome(content=f"Error: {message}", line=_short(f"{name}: {message}"), error=True)


def _invalid(name: str, exc: ValidationError) -> ToolOutcome:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'arguments'}: {error['msg']}"
        for error in exc.errors()
    )
    return _error(name, f"invalid arguments for {name}: {problems}. Fix them and call it again.")


def _tests_content(result: TestResult) -> str:
    verdict = "Tests passed" if result.ok else "Tests failed"
    tail = result.output_tail
    if len(tail) > MODEL_TEST_OUTPUT_CHARS:
        tail = "[... earlier output cut ...]\n" + tail[-MODEL_TEST_OUTPUT_CHARS:]
    return f"{verdict}: {result.headline}\n{tail}"


async def _run(call: BaseModel, ctx: ToolContext) -> ToolOutcome:
    ws = ctx.workspace
    match call:
        case ListFiles(path=path):
            where = "the repository" if path in (".", "", "./") else path
            return ToolOutcome(await files.list_files(ws, path), f"listing {where}")
        case ReadFile(path=path, start=start, end=end):
            content = await files.read_file(ws, path, start, end)
            return ToolOutcome(content, f"reading {path}")
        case SearchCode(pattern=pattern, path=path):
            content = await files.search_code(ws, pattern, path)
            return ToolOutcome(content, _short(f"searching for {pattern!r}"))
        case WriteFile(path=path, content=text):
            return ToolOutcome(
                await files.write_file(ws, path, text, limit=ctx.max_file_bytes),
                f"wrote {path}",
            )
        case EditFile(path=path, old=old, new=new):
            return ToolOutcome(
                await files.edit_file(ws, path, old, new, limit=ctx.max_file_bytes),
                f"edited {path}",
            )
        case RunTests():
            if not ctx.test_command:
                raise ToolError(
                    "no test command is configured for this repository, so tests cannot be "
                    "run here; check your change by reading it, then call finish"
                )
            result = await run_command(
                ctx.test_command,
                ws.root,
                sandbox=ctx.sandbox,
                env=ctx.test_env,
                timeout=ctx.test_timeout,
                redact=ctx.redact,
            )
            return ToolOutcome(
                _tests_content(result), f"running tests: {result.headline}", test_result=result
            )
        case Finish(summary=summary):
            return ToolOutcome(
                "Finished.", _short(f"finished: {summary}"), finished=True, summary=summary
            )
    raise AssertionError(f"no handler for {type(call).__name__}")


async def execute(name: str, args: dict[str, object], ctx: ToolContext) -> ToolOutcome:
    """Validate and run one tool call; every mistake becomes an error outcome, not a raise.

    What comes back has passed the redactor (file contents could hold a secret too).
    """
    outcome = await _execute(name, args, ctx)
    return replace(outcome, content=ctx.redact(outcome.content), line=ctx.redact(outcome.line))


async def _execute(name: str, args: dict[str, object], ctx: ToolContext) -> ToolOutcome:
    tool = _BY_NAME.get(name)
    if tool is None:
        return _error(name, f"unknown tool {name!r}; the tools are {', '.join(_BY_NAME)}")
    try:
        call = tool.model_validate(args)
    except ValidationError as exc:
        return _invalid(name, exc)
    try:
        return await _run(call, ctx)
    except ToolError as exc:
        return _error(name, str(exc))
