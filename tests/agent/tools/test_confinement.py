"""Every tool stays inside the workspace and out of `.git`, whatever path it is given."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.tools.toolset import ToolContext, execute
from agent.tools.workspace import ToolError, Workspace

Call = tuple[str, dict[str, object]]

DOTDOT: list[Call] = [
    ("read_file", {"path": "../outside/sentinel.txt"}),
    ("write_file", {"path": "../outside/sentinel.txt", "content": "pwned\n"}),
    ("write_file", {"path": "../new.txt", "content": "pwned\n"}),
    ("write_file", {"path": "src/../../new.txt", "content": "pwned\n"}),
    ("edit_file", {"path": "../outside/sentinel.txt", "old": "original", "new": "pwned"}),
    ("list_files", {"path": ".."}),
    ("search_code", {"pattern": "original", "path": "../outside"}),
]

# Links made by the `links` fixture: to a file outside, to the outside folder, to a
# file outside that does not exist yet, and to the workspace's own `.git`.
THROUGH_LINKS: list[Call] = [
    ("read_file", {"path": "link_file"}),
    ("write_file", {"path": "link_file", "content": "pwned\n"}),
    ("edit_file", {"path": "link_file", "old": "original", "new": "pwned"}),
    ("read_file", {"path": "link_dir/sentinel.txt"}),
    ("write_file", {"path": "link_dir/sentinel.txt", "content": "pwned\n"}),
    ("write_file", {"path": "link_dir/new.txt", "content": "pwned\n"}),
    ("write_file", {"path": "link_dir/deeper/new.txt", "content": "pwned\n"}),
    ("edit_file", {"path": "link_dir/sentinel.txt", "old": "original", "new": "pwned"}),
    ("list_files", {"path": "link_dir"}),
    ("search_code", {"pattern": "original", "path": "link_dir"}),
    ("search_code", {"pattern": "original", "path": "link_file"}),
    ("write_file", {"path": "dangling", "content": "pwned\n"}),
    ("write_file", {"path": "git_link/hooks/post-checkout", "content": "#!/bin/sh\n"}),
    ("read_file", {"path": "git_link/config"}),
]

INTO_GIT: list[Call] = [
    ("read_file", {"path": ".git/config"}),
    ("write_file", {"path": ".git/config", "content": "[core]\n"}),
    ("write_file", {"path": ".git/hooks/pre-commit", "content": "#!/bin/sh\n"}),
    ("write_file", {"path": ".git", "content": "gitdir: /elsewhere\n"}),
    ("edit_file", {"path": ".git/HEAD", "old": "ref", "new": "pwned"}),
    ("list_files", {"path": ".git"}),
    ("search_code", {"pattern": "core", "path": ".git"}),
    ("read_file", {"path": "./.git/config"}),
    ("read_file", {"path": ".GIT/config"}),
    ("write_file", {"path": "src/.git/config", "content": "[core]\n"}),
]


@pytest.fixture
def links(repo: Path, outside: Path) -> None:
    (repo / "link_file").symlink_to(outside / "sentinel.txt")
    (repo / "link_dir").symlink_to(outside, target_is_directory=True)
    (repo / "dangling").symlink_to(outside / "new.txt")
    (repo / "git_link").symlink_to(repo / ".git", target_is_directory=True)


async def _assert_refused(call: Call, ctx: ToolContext) -> str:
    name, args = call
    outcome = await execute(name, args, ctx)
    assert outcome.error
    assert outcome.content.startswith("Error: ")
    assert not outcome.finished
    return outcome.content


@pytest.mark.parametrize("call", DOTDOT, ids=lambda call: f"{call[0]}:{call[1]['path']}")
async def test_execute_refuses_dotdot(
    call: Call, ctx: ToolContext, assert_untouched: Callable[[], None]
) -> None:
    content = await _assert_refused(call, ctx)
    assert "leaves the workspace" in content
    assert_untouched()


@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file", "list_files"])
async def test_execute_refuses_absolute_path(
    tool: str, outside: Path, ctx: ToolContext, assert_untouched: Callable[[], None]
) -> None:
    target = str(outside / "sentinel.txt")
    args: dict[str, dict[str, object]] = {
        "read_file": {"path": target},
        "write_file": {"path": target, "content": "pwned\n"},
        "edit_file": {"path": target, "old": "original", "new": "pwned"},
        "list_files": {"path": str(outside)},
    }
    content = await _assert_refused((tool, args[tool]), ctx)
    assert "absolute" in content
    assert_untouched()


@pytest.mark.usefixtures("links")
@pytest.mark.parametrize("call", THROUGH_LINKS, ids=lambda call: f"{call[0]}:{call[1]['path']}")
async def test_execute_refuses_symlink_escape(
    call: Call, ctx: ToolContext, assert_untouched: Callable[[], None]
) -> None:
    await _assert_refused(call, ctx)
    assert_untouched()


@pytest.mark.parametrize("call", INTO_GIT, ids=lambda call: f"{call[0]}:{call[1]['path']}")
async def test_execute_refuses_git_folder(
    call: Call, ctx: ToolContext, repo: Path, assert_untouched: Callable[[], None]
) -> None:
    content = await _assert_refused(call, ctx)
    assert ".git" in content
    assert_untouched()
    assert not (repo / "src" / ".git").exists()


@pytest.mark.usefixtures("links")
async def test_search_code_skips_symlinks_to_outside(ctx: ToolContext) -> None:
    outcome = await execute("search_code", {"pattern": "original"}, ctx)
    assert not outcome.error
    assert outcome.content.startswith("no matches")


@pytest.mark.usefixtures("links")
async def test_list_files_shows_symlinks_without_following_them(ctx: ToolContext) -> None:
    outcome = await execute("list_files", {}, ctx)
    lines = outcome.content.splitlines()
    assert "link_dir (symlink)" in lines
    assert "link_file (symlink)" in lines
    assert not any("sentinel" in line for line in lines)
    assert not any(line.startswith(".git") for line in lines)


def test_workspace_allows_symlink_inside(repo: Path) -> None:
    (repo / "alias.py").symlink_to(repo / "src" / "tasks" / "service.py")
    ws = Workspace(repo)
    assert ws.resolve("alias.py") == repo.resolve() / "src" / "tasks" / "service.py"


def test_workspace_refuses_symlink_loop(repo: Path) -> None:
    (repo / "loop").symlink_to(repo / "loop")
    with pytest.raises(ToolError, match="cannot be resolved"):
        Workspace(repo).resolve("loop/x")


def test_workspace_refuses_symlinked_parent(repo: Path, outside: Path) -> None:
    # The link is a parent folder of the path, not the file itself.
    (repo / "src" / "vendor").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ToolError, match="leaves the workspace"):
        Workspace(repo).resolve("src/vendor/new/file.py")


def test_workspace_message_tells_model_how_to_fix(ws: Workspace) -> None:
    with pytest.raises(ToolError) as caught:
        ws.resolve("../x")
    assert str(caught.value) == (
        "path '../x' leaves the workspace; use a path relative to the repository root"
    )
