"""Leases of managers in one process: a stopped manager's lease frees its run at once.

Two bots in one process in turn (a restart in the tests, the demo) used to leave the
first one's lease on a run when a shutdown's cancel landed while the run was handed
back: the second bot then refused to drive the run for the lease's 60 s.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from agent.models import ReviewDecision
from agent.runs.lease import LEASE_S, holder_alive, process_name, retire
from agent.runs.store import RunStore


def test_a_retired_name_of_this_process_holds_nothing() -> None:
    first = process_name()
    assert holder_alive(first)
    retire(first)
    assert not holder_alive(first)
    assert holder_alive(f"{socket.gethostname()}:{os.getpid()}:other")  # another manager here
    assert holder_alive("elsewhere:1:abc")  # another host's: assumed alive


async def test_the_next_manager_takes_a_run_a_stopped_one_still_leases(tmp_path: Path) -> None:
    store = await RunStore.open(tmp_path / "taskmaster.db")
    try:
        run = await store.create("TASK-1", "U_ANA")
        await store.transition(run.run_id, "awaiting_review", interrupt_id="i-1")
        stopped, running = process_name(), process_name()
        assert await store.take_lease(run.run_id, stopped, LEASE_S, holder_alive)
        assert not await store.take_lease(run.run_id, running, LEASE_S, holder_alive)
        retire(stopped)  # its manager closed without releasing the lease
        decision = ReviewDecision(action="approve", by="U_BEN")
        assert await store.claim_review(run.run_id, "i-1", decision)
        assert await store.take_lease(run.run_id, running, LEASE_S, holder_alive)
    finally:
        await store.close()
