"""Limits on what the repository's code may use, and plain words when it hit one.

Set with `prlimit` inside the sandbox, as rlimits of the command and all it starts:
processes (RLIMIT_NPROC, per user inside the sandbox, so threads count too), memory
(RLIMIT_DATA, the writable memory of each process: a program that reserves address
space it never touches, as V8 and the JVM do, is not penalised) and the size of any
file written (RLIMIT_FSIZE). A program that hits one is refused (fork fails, malloc
fails, a write fails) rather than killed, so which limit was hit is read from what
it printed; the wall-clock timeout stays the last word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIB = 1024 * 1024

# What shells and runtimes print when the kernel refuses them for each limit: their
# own words, not a test's mention of an errno, so an ordinary failure is not blamed on
# a limit.
_OUT_OF_PROCESSES = re.compile(
    r"fork: (?:retry: )?Resource temporarily unavailable|: Cannot fork$"
    r"|BlockingIOError: \[Errno 11\] Resource temporarily unavailable"
    r"|RuntimeError: can't start new thread",
    re.MULTILINE,
)
_OUT_OF_MEMORY = re.compile(
    r"^(?:E\s+)?MemoryError\b|\[Errno 12\] Cannot allocate memory|std::bad_alloc"
    r"|JavaScript heap out of memory|fatal error: runtime: out of memory",
    re.MULTILINE,
)
_FILE_TOO_LARGE = re.compile(r"\[Errno 27\] File too large|File size limit exceeded")
# 128 + SIGXFSZ: a shell's report of a child killed for writing past RLIMIT_FSIZE.
_SIGXFSZ_EXITS = (153, -25)


def _size(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"


@dataclass(frozen=True)
class Limits:
    """Each a setting: TASKMASTER_SANDBOX_PROCESSES, _MEMORY_MB, _FILE_MB."""

    processes: int = 512
    memory_mb: int = 2048
    file_mb: int = 1024

    def prlimit_options(self) -> list[str]:
        """prlimit's options setting every limit, soft and hard, for what it runs."""
        memory = self.memory_mb * MIB
        size = self.file_mb * MIB
        return [
            f"--nproc={self.processes}:{self.processes}",
            f"--data={memory}:{memory}",
            f"--fsize={size}:{size}",
            "--core=0:0",
            "--",
        ]

    def explain(self, output: str, exit_code: int | None) -> str:
        """Plain words for the limit a failed command ran into, or ""."""
        if exit_code in _SIGXFSZ_EXITS or _FILE_TOO_LARGE.search(output):
            return (
                f"the tests tried to write a file larger than {_size(self.file_mb)} "
                "(TASKMASTER_SANDBOX_FILE_MB)"
            )
        if _OUT_OF_MEMORY.search(output):
            return (
                f"the tests used more than {_size(self.memory_mb)} of memory in one process "
                "(TASKMASTER_SANDBOX_MEMORY_MB)"
            )
        if _OUT_OF_PROCESSES.search(output):
            return (
                f"the tests tried to run more than {self.processes} processes at once "
                "(TASKMASTER_SANDBOX_PROCESSES)"
            )
        return ""
