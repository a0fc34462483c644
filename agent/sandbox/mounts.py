"""What the sandbox may see of the host, read-only: the system and the toolchains on PATH.

A test command names `python`, `pytest` or `npm` and must find the same programs it
finds outside, with their installed packages. So every folder on PATH is visible, with
the installation it belongs to: a virtual environment and the Python it was made from,
or the prefix of a `bin` folder (`/opt/node` for `/opt/node/bin`). Never a home
folder, TaskMaster's data folder or its working folder, which hold the secrets
(`.env`, `~/.git-credentials`, the checkpoint database): a toolchain inside a home
folder contributes only its PATH folder (except a Python installation a virtual
environment was made from, such as `~/.pyenv/versions/3.11.7`, shown whole), and
anything else it needs is named in TASKMASTER_SANDBOX_MOUNTS.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

# The system's programs and libraries. On merged-/usr systems the top-level ones are
# symlinks into /usr, and are recreated as symlinks.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

# What programs need from /etc, and nothing that could hold a credential.
ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "debian_version",
    "fonts",
    "gai.conf",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "lsb-release",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "pki",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
    "timezone",
)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _real(path: Path) -> Path | None:
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return resolved if resolved.is_dir() else None


def _venv_base(venv: Path) -> Path | None:
    """The prefix of the Python a virtual environment was made from (`home` in pyvenv.cfg)."""
    try:
        lines = (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return Path(value.strip()).parent
    return None


def _installation(folder: Path, guarded: Sequence[Path]) -> list[Path]:
    """`folder` (on PATH) and the installation it belongs to."""
    parent = folder.parent
    if (parent / "pyvenv.cfg").is_file():
        base = _venv_base(parent)
        return [parent, *([base] if base else [])]
    if folder.name in ("bin", "sbin") and parent != parent.parent:
        if any(_inside(parent, secret) for secret in guarded):
            return [folder]  # ~/.local/bin: not the rest of ~/.local
        return [parent]
    return [folder]


def toolchain_folders(
    path_variable: str, *, extra: Iterable[Path] = (), protected: Iterable[Path] = ()
) -> list[Path]:
    """Folders to show read-only, shallowest first, none holding a `protected` folder.

    `protected`: folders whose content must stay invisible (HOME, the data folder, the
    working folder with `.env`); a candidate that is one of them, or contains one, is
    left out with a log line.
    """
    guarded = [real for path in protected if (real := _real(path)) is not None]
    candidates: list[Path] = []
    for entry in path_variable.split(os.pathsep):
        if not entry or not os.path.isabs(entry):
            continue  # "" and "." mean the working folder: the workspace is there anyway
        folder = _real(Path(entry))
        if folder is not None:
            candidates += _installation(folder, guarded)
    candidates += [Path(sys.prefix), Path(sys.base_prefix), *extra]
    chosen: list[Path] = []
    for candidate in candidates:
        real = _real(candidate)
        if real is None or any(_inside(real, Path(root)) for root in SYSTEM):
            continue
        if any(_inside(secret, real) for secret in guarded):
            log.warning("not showing %s to the sandbox: it holds TaskMaster's own files", real)
            continue
        chosen.append(real)
    chosen.sort(key=lambda path: len(path.parts))
    kept: list[Path] = []
    for path in chosen:
        if not any(_inside(path, outer) for outer in kept):
            kept.append(path)
    return kept


def system_binds() -> list[str]:
    """bwrap arguments for the system folders (symlinks stay symlinks)."""
    args: list[str] = []
    for name in SYSTEM:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    return args


def etc_entries() -> list[str]:
    """The chosen entries of /etc, with Debian's /etc/python3.X (Python's site config)."""
    names = [f"/etc/{name}" for name in ETC]
    names += [str(folder) for folder in sorted(Path("/etc").glob("python3*"))]
    return names
