"""What the sandbox costs: the demo ticket's test run inside bubblewrap and without it.

Clones the demo repository once, applies TASK-101's change (its scripted edits are
not needed: the test suite is the same size), then runs its test command N times in
each sandbox, alternating so both see the same machine, and prints the medians and
their ratio. Also times `search_code` with a catastrophic pattern over a 1 MB file.

    .venv/bin/python bench/sandbox.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from agent.demo import prepare_demo
from agent.git import git, harden_clone
from agent.integrations import registry
from agent.repo_config import read_repo_config
from agent.settings import load_settings
from agent.tools import files
from agent.tools.test_runner import run_command
from agent.tools.workspace import Workspace


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="taskmaster-bench-") as scratch:
        data = Path(scratch) / "data"
        overrides = await prepare_demo(data)
        workspace = data / "workspaces" / "bench"
        workspace.parent.mkdir(parents=True)
        await git("clone", "-q", overrides["TASKMASTER_REPO"], str(workspace))
        harden_clone(workspace)
        config = read_repo_config(workspace)
        assert config.test_command
        sandboxes = {
            name: registry.sandbox(
                load_settings({"TASKMASTER_DATA_DIR": str(data), "TASKMASTER_SANDBOX": name}),
                os.environ,
            )
            for name in ("bwrap", "off")
        }
        times: dict[str, list[float]] = {name: [] for name in sandboxes}
        for _ in range(runs):
            for name, sandbox in sandboxes.items():
                started = time.perf_counter()
                result = await run_command(
                    config.test_command,
                    workspace,
                    sandbox=sandbox,
                    env=config.environment,
                    timeout=120,
                )
                times[name].append(time.perf_counter() - started)
                assert result.ok, result.output_tail
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"demo test run ({config.test_command}), median of {runs}:")
        for name, median in medians.items():
            print(f"  {name:>5}: {median * 1000:7.1f} ms  (min {min(times[name]) * 1000:.1f})")
        print(f"  ratio bwrap/off: {medians['bwrap'] / medians['off']:.2f}x")
        print(f"  sandbox overhead: {(medians['bwrap'] - medians['off']) * 1000:.1f} ms")

        (workspace / "big.txt").write_text(("a" * 5000 + "b\n") * 200)
        started = time.perf_counter()
        await files.search_code(Workspace(workspace), "(a+)+$", ".")
        print(f"search_code '(a+)+$' over 1 MB: {(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(main(parser.parse_args().runs))
