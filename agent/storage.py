"""Storage faults said in one line: a read-only data folder, a full disk, a locked database.

SQLite and the OS report these as "unable to open database file", "disk I/O error",
"database is locked" or an errno, from wherever they happen (the registry, the
checkpointer, git in a workspace). `storage_fault` recognises them anywhere in an
exception's chain and looks at the data folder itself to say which one it is, and for
a lock, which process holds the database, so a person reads what to fix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

from agent.errors import ErrorKind, TaskmasterError

_FULL = ("database or disk is full", "no space left on device", "disk quota exceeded")
_READ_ONLY = ("readonly database", "read-only file system", "unable to open database file")
_LOCKED = ("database is locked", "database table is locked")
AFTER = "nothing was lost: once it is fixed, `taskmaster resume RUN` continues a run"


class StorageFault(TaskmasterError):
    """The data cannot be stored: `problem` is read_only, disk_full, locked or unreachable."""

    def __init__(self, problem: str, message: str, holder: int | None = None) -> None:
        self.problem = problem
        self.holder = holder
        super().__init__(ErrorKind.STORAGE, message)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            for inner in current.exceptions:
                yield from _chain(inner)
        current = current.__cause__ or current.__context__


def storage_fault(exc: BaseException, data_dir: Path) -> StorageFault | None:
    """The storage fault behind `exc` (anywhere in its chain), or None if it is not one."""
    for error in _chain(exc):
        if isinstance(error, StorageFault):
            return error
        if _postgres_gone(error):
            return StorageFault(
                "unreachable",
                f"the database (TASKMASTER_DATABASE_URL) stopped answering ({_first_line(error)}); "
                f"check that PostgreSQL runs and can be reached; {AFTER}",
            )
        text = str(error).lower()
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return disk_full(data_dir)
        if isinstance(error, OSError) and error.errno == errno.EROFS:
            return read_only(data_dir)
        if any(words in text for words in _FULL):
            return disk_full(data_dir)
        if isinstance(error, sqlite3.OperationalError):
            if any(words in text for words in _LOCKED):
                return locked(data_dir / "taskmaster.db")
            if any(words in text for words in _READ_ONLY) or "disk i/o error" in text:
                if _is_full(data_dir):
                    return disk_full(data_dir)
                if not _writable(data_dir):
                    return read_only(data_dir)
        denied = isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM)
        if denied and not _writable(data_dir):
            return read_only(data_dir)
    return None


def _postgres_gone(error: BaseException) -> bool:
    """A lost or refused PostgreSQL connection, or a pool that could get none. Looked up
    in `sys.modules`: with SQLite, psycopg is never imported, and no error is one."""
    psycopg, pool = sys.modules.get("psycopg"), sys.modules.get("psycopg_pool")
    return (psycopg is not None and isinstance(error, psycopg.OperationalError)) or (
        pool is not None and isinstance(error, pool.PoolTimeout)
    )


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def check_writable(data_dir: Path, db_path: Path | None, wait: float = 2.0) -> str | None:
    """Why the data folder (and the SQLite file, if any) cannot be written now, or None.

    For a health check: the folder's mount flags and free space, then a write lock on
    the database taken and given back at once (waiting at most `wait` seconds).
    """
    if not _writable(data_dir):
        return read_only(data_dir).message
    if _is_full(data_dir):
        return disk_full(data_dir).message
    if db_path is None or not db_path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(db_path, timeout=wait)) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
    except sqlite3.Error as error:
        fault = storage_fault(error, data_dir)
        return fault.message if fault else f"the database cannot be written ({error})"
    return None


def read_only(data_dir: Path) -> StorageFault:
    return StorageFault(
        "read_only",
        f"the data folder {data_dir} is read-only: make it writable, or set "
        f"TASKMASTER_DATA_DIR to a folder that is; {AFTER}",
    )


def disk_full(data_dir: Path) -> StorageFault:
    return StorageFault(
        "disk_full", f"the disk holding {data_dir} is full: free some space on it; {AFTER}"
    )


def locked(db_path: Path) -> StorageFault:
    holder = lock_holder(db_path)
    who = f"process {holder} ({_name(holder)})" if holder else "another process"
    return StorageFault(
        "locked",
        f"the database {db_path} is locked by {who}: stop it or let it finish; {AFTER}",
        holder,
    )


def unreachable(where: str, why: str) -> StorageFault:
    """TASKMASTER_DATABASE_URL names a server that does not answer, or refuses us."""
    return StorageFault(
        "unreachable",
        f"the database at {where} (TASKMASTER_DATABASE_URL) cannot be used: {why}; "
        f"check that PostgreSQL runs there and the URL is right; {AFTER}",
    )


def _writable(folder: Path) -> bool:
    try:
        flags = os.statvfs(folder).f_flag
    except OSError:
        return False
    return not flags & os.ST_RDONLY and os.access(folder, os.W_OK)


def _is_full(folder: Path) -> bool:
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def lock_holder(db_path: Path) -> int | None:
    """Another process with the database file open (the one holding the lock, as far as
    /proc can tell): the first that is not this one."""
    names = {str(db_path), f"{db_path}-wal", f"{db_path}-journal"}
    with contextlib.suppress(OSError):
        names |= {str(db_path.resolve())}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & names:
            return int(entry.name)
    return None


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "gone"
