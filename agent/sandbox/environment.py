"""The environment of the repository's code: built from an allowlist, never inherited.

A denylist of secret-looking names misses `DATABASE_URL`, `GH_PAT` and whatever a team
invents; an allowlist cannot. The repository adds its own variables through the
`Environment:` line of its `.taskmaster.md`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

# Variables that say how to find programs and how to print text, nothing more.
PASSED_THROUGH = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TERM")

# The tests must leave nothing behind in the diff: no bytecode, no pytest cache.
QUIET_CACHES = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_ADDOPTS": "-p no:cacheprovider"}


def interpreter_path(environ: Mapping[str, str]) -> str:
    """PATH with the folder of TaskMaster's own interpreter first.

    The detected test command is `python -m pytest`; on a host where `python` is
    missing (Debian ships only `python3`) or is another installation without pytest,
    the tests would fail for reasons that have nothing to do with the change. Not
    resolved, so a virtualenv's bin folder (with its other scripts) comes first, as
    activating it would do.
    """
    rest = environ.get("PATH") or os.defpath
    if not sys.executable:
        return rest
    return os.pathsep.join([os.path.dirname(sys.executable), rest])


def sandbox_environment(
    environ: Mapping[str, str], repo_env: Mapping[str, str], *, home: str
) -> dict[str, str]:
    """The whole environment of one command: allowlisted, then caches off, then the repo's."""
    env = {name: environ[name] for name in PASSED_THROUGH if name in environ}
    env["PATH"] = interpreter_path(environ)
    env["HOME"] = home
    env["TMPDIR"] = "/tmp"
    env.update(QUIET_CACHES)
    env.update(repo_env)
    return env
