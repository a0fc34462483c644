#!/usr/bin/env python3
"""Bootstrap for a fresh clone: `python3 dev.py demo` or `python3 dev.py test`.

It needs only Python 3.11+ and git. It makes `.venv` (once), installs TaskMaster with
its development extras into it, then runs the demo or the test suite there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"

COMMANDS = {
    "demo": ["taskmaster", "demo"],
    "test": ["python", "-m", "pytest"],
}


def ensure_environment() -> None:
    """Create the virtual environment and install the project when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be started by an older python3
        sys.exit(f"TaskMaster needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    if STAMP.exists() and STAMP.read_bytes() == pyproject:
        return
    print("Installing TaskMaster and its development tools into .venv ...", flush=True)
    subprocess.run(
        [str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", ".[dev]"],
        cwd=ROOT,
        check=True,
    )
    STAMP.write_bytes(pyproject)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    ensure_environment()
    command, *args = COMMANDS[sys.argv[1]]
    argv = [str(BIN / command), *args, *sys.argv[2:]]
    os.chdir(ROOT)
    if os.name == "posix":
        # Become the command: Ctrl-C then reaches it directly and it shuts down cleanly
        # (subprocess.call would kill it on KeyboardInterrupt).
        os.execv(argv[0], argv)
    return subprocess.call(argv)


if __name__ == "__main__":
    raise SystemExit(main())
