"""Git as a subprocess: the one way TaskMaster touches repositories.

Every call gets an explicit environment (no credentials helper prompts, no user or
system config) and fails with a `git` error whose message names the command, never
its output, which could echo a URL with a token in it.

The repository is not trusted: the model edits it and its tests run code from it.
So TaskMaster's own git calls never run anything the repository could plant or
configure: hooks are off, `core.fsmonitor` is off, and `harden_clone` makes the
clone's in-tree `.gitattributes` ineffective (no filters, text conversion or diff
drivers), so what is diffed, reviewed and pushed is the working tree's bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from agent.errors import ErrorKind, TaskmasterError

log = logging.getLogger(__name__)

AUTHOR = ("TaskMaster", "taskmaster@localhost")

# Config for every call, given as GIT_CONFIG_* variables (git's "command" scope, which
# overrides the clone's own .git/config).
HARDENING: Mapping[str, str] = {
    "core.hooksPath": os.devnull,
    "core.fsmonitor": "false",
    "core.attributesFile": os.devnull,
    # The sandbox may own the working tree's files (when TaskMaster runs as root its
    # code runs as nobody); git would otherwise refuse the "dubious ownership".
    "safe.directory": "*",
}

# Written to `.git/info/attributes`, which outranks every `.gitattributes` in the tree:
# every attribute that changes bytes on the way in or out, or hides a diff, is reset.
NEUTRAL_ATTRIBUTES = (
    "# Written by TaskMaster: the repository's .gitattributes must not change what\n"
    "# TaskMaster adds, shows for review or pushes.\n"
    "* !text !eol !crlf !diff !merge !filter !ident !working-tree-encoding !export-subst\n"
)


def git_env(
    extra: Mapping[str, str] | None = None, config: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A minimal environment for git: PATH and HOME only, never prompting, no user config.

    `config` entries (a token's header, say) join `HARDENING` as GIT_CONFIG_* variables:
    never in argv, where any process could read them, nor in `.git/config`.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": AUTHOR[0],
        "GIT_AUTHOR_EMAIL": AUTHOR[1],
        "GIT_COMMITTER_NAME": AUTHOR[0],
        "GIT_COMMITTER_EMAIL": AUTHOR[1],
        "LC_ALL": "C",
    }
    env.update(extra or {})
    entries = {**HARDENING, **(config or {})}
    env["GIT_CONFIG_COUNT"] = str(len(entries))
    for index, (key, value) in enumerate(entries.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


async def git(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    config: Mapping[str, str] | None = None,
    redact: tuple[str, ...] = (),
    check: bool = True,
) -> str:
    """Run `git args...` and return its stdout; `redact` lists strings never to log."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=git_env(env, config),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own group, so its helpers (git-remote-http) go with it
    )
    try:
        out, err = await proc.communicate()
    except BaseException:  # cancelled (a run cancelled, the bot stopping): leave no process
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    elapsed = time.perf_counter() - started
    log.debug("git %s took %.3fs", args[0], elapsed, extra={"duration": elapsed})
    if check and proc.returncode != 0:
        shown = " ".join(args[:2])
        detail = err.decode(errors="replace").strip()
        for secret in redact:
            if secret:
                detail = detail.replace(secret, "***")
        log.warning("git %s failed (exit %s): %s", shown, proc.returncode, detail)
        raise TaskmasterError(ErrorKind.GIT, f"`git {shown}` failed; the details are in the log.")
    return out.decode(errors="replace")


def harden_clone(workspace: Path) -> None:
    """Make the clone's in-tree `.gitattributes` powerless for TaskMaster's own git calls."""
    info = workspace / ".git" / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "attributes").write_text(NEUTRAL_ATTRIBUTES, encoding="utf-8")
