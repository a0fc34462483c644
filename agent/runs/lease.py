"""Who drives a run: one process at a time, named so a dead one can be recognised.

Two processes on one data folder (a bot and a terminal, or two bots during a deploy)
must never both drive the same run. The registry keeps the driver's name and a lease
it renews; another process may take the run over when the lease expires, or at once
when the driver ran on this host and its process is gone (killed, crashed).
"""

from __future__ import annotations

import os
import socket
import uuid

LEASE_S = 60.0

# Names of managers of this process that have stopped (two bots in one process in
# turn): a lease one of them still holds is free.
_RETIRED: set[str] = set()


def process_name() -> str:
    """`host:pid:nonce`: the nonce tells two managers of one process apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def retire(name: str) -> None:
    """The manager that had `name` has stopped: leases it still names are free."""
    _RETIRED.add(name)


def holder_alive(holder: str) -> bool:
    """Whether the process a lease names may still exist (another host's: assume so)."""
    host, _, rest = holder.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        return holder not in _RETIRED
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, under another user
        return True
    return True
