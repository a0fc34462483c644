"""How `taskmaster` was started, so the commands it prints work when pasted."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path


def invocation() -> str:
    """How this command was started, so a printed command works when pasted."""
    started = sys.argv[0] if sys.argv else ""
    if started.endswith(("cli.py", "__main__.py")):  # python -m bot.cli
        return shlex.join([sys.executable, "-m", "bot.cli"])
    name = Path(started).name or "taskmaster"
    if shutil.which(name) and Path(shutil.which(name) or "").resolve() == Path(started).resolve():
        return name  # on PATH: the short name is the same program
    return shlex.quote(started)
