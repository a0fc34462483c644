"""Git as a subprocess: the one way TaskMaster touches repositories.

Every call gets an explicit environment (no credentials helper prompts, no user
config surprises) and fails with a `git` error whose message names the command,
never its output, which could echo a URL with a token in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path

from agent.errors import ErrorKind, TaskmasterError

log = logging.getLogger(__name__)

AUTHOR = ("TaskMaster", "taskmaster@localhost")


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for git: PATH and HOME only, never prompting."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": AUTHOR[0],
        "GIT_AUTHOR_EMAIL": AUTHOR[1],
        "GIT_COMMITTER_NAME": AUTHOR[0],
        "GIT_COMMITTER_EMAIL": AUTHOR[1],
        "LC_ALL": "C",
    }
    env.update(extra or {})
    return env


async def git(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    redact: tuple[str, ...] = (),
    check: bool = True,
) -> str:
    """Run `git args...` and return its stdout; `redact` lists strings never to log."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=git_env(env),
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
