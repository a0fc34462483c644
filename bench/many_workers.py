"""Workers on PostgreSQL (issue 13): throughput, recovery after SIGKILL, ack latency.

Stands up LocalSlack, a fresh database on 127.0.0.1:5432 (user postgres), and real
`taskmaster worker` / `taskmaster serve` processes on the demo repository, with the
demo's script for TASK-101 copied to many tickets and a scripted model that takes
`--turn` seconds (default 1) per answer.

1. Runs to review per minute with 1, 2 and 3 workers (TASKMASTER_MAX_RUNS=2 each):
   `--runs` runs enqueued at once; the clock stops when the last one awaits review.
2. SIGKILL to moving again: with two workers, a run's driver is killed mid-run; the
   time until another worker holds its lease (TASKMASTER_WORKER_TIMEOUT=--timeout).
3. Ack time with 50 slash commands in flight against one `serve`, on PostgreSQL and
   on SQLite (p50, p99).

    .venv/bin/python bench/many_workers.py [--runs 12] [--turn 1] [--kills 5]
        [--parts throughput recovery acks]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg

from agent.demo import EXAMPLES, prepare_demo
from agent.events import Event
from agent.runs.records import RunRecord
from agent.runs.runtime import open_runtime
from agent.settings import load_settings
from bot.slack.conversation import BOT_EVENTS
from localslack import LocalSlack

BOT_TOKEN, SIGNING_SECRET = "xoxb-bench", "bench-signing-secret"
ADMIN = "postgresql://postgres@127.0.0.1:5432"


async def ignore(run: RunRecord, event: Event) -> None:
    return None


def tickets_and_scripts(root: Path, count: int, turn: float) -> tuple[Path, Path]:
    """`count` copies of TASK-101 (BENCH-1...), each with the demo's script, paced."""
    tickets, scripts = root / "tickets", root / "scripts"
    tickets.mkdir()
    scripts.mkdir()
    ticket = (EXAMPLES / "tickets" / "TASK-101.md").read_text()
    script = json.loads((EXAMPLES / "scripts" / "TASK-101.json").read_text())
    for n in range(1, count + 1):
        (tickets / f"BENCH-{n}.md").write_text(ticket)
        (scripts / f"BENCH-{n}.json").write_text(json.dumps({**script, "seconds_per_turn": turn}))
    return tickets, scripts


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    name = f"taskmaster_bench_{uuid.uuid4().hex[:8]}"
    admin = await psycopg.AsyncConnection.connect(f"{ADMIN}/test", autocommit=True)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{ADMIN}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def spawn(env: Mapping[str, str], home: Path, *args: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, cwd=home, env=dict(env),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    await asyncio.wait_for(proc.stdout.readline(), 120)  # its ready line
    return proc


async def stop(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as db:
        cursor = await db.execute(sql, params)
        return list(await cursor.fetchall())


async def environment(work: Path, slack: LocalSlack, runs: int, turn: float) -> dict[str, str]:
    data = work / "data"
    env = await prepare_demo(data)
    tickets, scripts = tickets_and_scripts(work, runs, turn)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TASKMASTER_", "SLACK_"))}
    return {
        **base,
        **env,
        "TASKMASTER_DATA_DIR": str(data),
        "TASKMASTER_TICKETS": str(tickets),
        "TASKMASTER_MODEL": f"scripted:{scripts}",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
    }


async def throughput(slack: LocalSlack, workers: int, runs: int, turn: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        async with database() as url:
            env = {**await environment(work, slack, runs, turn), "TASKMASTER_DATABASE_URL": url}
            settings = load_settings(env)
            async with open_runtime(settings, env, ignore, role="web") as web:
                procs = [await spawn(env, work, "worker") for _ in range(workers)]
                try:
                    started = time.monotonic()
                    for n in range(1, runs + 1):
                        web.launch(await web.create(f"BENCH-{n}", "bench"))
                    while True:
                        waiting = await rows(
                            url, "SELECT count(*) FROM runs WHERE status = 'awaiting_review'"
                        )
                        if waiting[0][0] == runs:
                            break
                        await asyncio.sleep(0.2)
                    return runs / (time.monotonic() - started) * 60
                finally:
                    await stop(procs)


async def recovery(slack: LocalSlack, kills: int, turn: float, silence: float) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        async with database() as url:
            env = {
                **await environment(work, slack, kills, turn),
                "TASKMASTER_DATABASE_URL": url,
                "TASKMASTER_WORKER_TIMEOUT": str(silence),
            }
            settings = load_settings(env)
            async with open_runtime(settings, env, ignore, role="web") as web:
                procs = [await spawn(env, work, "worker") for _ in range(2)]
                try:
                    for n in range(1, kills + 1):
                        run = await web.create(f"BENCH-{n}", "bench")
                        web.launch(run)
                        owner = None
                        while not owner:
                            [(owner,)] = await rows(
                                url, "SELECT owner FROM runs WHERE run_id = %s", run.run_id
                            )
                            await asyncio.sleep(0.05)
                        await asyncio.sleep(2 * turn)  # mid-implement
                        pid = int(owner.split(":")[1])
                        [victim] = [p for p in procs if p.pid == pid]
                        os.killpg(victim.pid, signal.SIGKILL)
                        killed = time.monotonic()
                        while True:
                            [(now,)] = await rows(
                                url, "SELECT owner FROM runs WHERE run_id = %s", run.run_id
                            )
                            if now and int(now.split(":")[1]) != pid:
                                break
                            await asyncio.sleep(0.05)
                        times.append(time.monotonic() - killed)
                        procs.remove(victim)
                        await victim.wait()
                        procs.append(await spawn(env, work, "worker"))
                finally:
                    await stop(procs)
    return times


async def acks(slack: LocalSlack, postgres: bool, commands: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        async with database() as url:
            env = await environment(work, slack, commands, 1.0)
            if postgres:
                env["TASKMASTER_DATABASE_URL"] = url
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            serve = await spawn({**env, "PORT": str(port)}, work, "serve")
            procs = [serve]
            if postgres:
                procs.append(await spawn(env, work, "worker"))
            try:
                slack.app_url = f"http://127.0.0.1:{port}/slack/events"
                results = await asyncio.gather(
                    *(slack.slash_command(f"BENCH-{n}") for n in range(1, commands + 1))
                )
                return [r.elapsed for r in results]
            finally:
                await stop(procs)
                shutil.rmtree(work / "data", ignore_errors=True)


PARTS = ["throughput", "recovery", "acks"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--turn", type=float, default=1.0)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=6.0)
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS)
    args = parser.parse_args()
    slack = LocalSlack(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, events=BOT_EVENTS)
    await slack.start()
    try:
        for workers in (1, 2, 3) if "throughput" in args.parts else ():
            rate = await throughput(slack, workers, args.runs, args.turn)
            print(f"{workers} worker(s): {rate:5.1f} runs to review per minute", flush=True)
        if "recovery" in args.parts:
            times = await recovery(slack, args.kills, args.turn, args.timeout)
            print(
                f"SIGKILL to moving again (TASKMASTER_WORKER_TIMEOUT={args.timeout:g}): "
                f"p50 {statistics.median(times):.1f}s p95 {pct(times, 0.95):.1f}s "
                f"max {max(times):.1f}s over {len(times)}",
                flush=True,
            )
        for name, postgres in (
            (("SQLite", False), ("PostgreSQL", True)) if "acks" in args.parts else ()
        ):
            elapsed = await acks(slack, postgres, args.commands)
            print(
                f"ack, {args.commands} commands in flight, {name}: "
                f"p50 {pct(elapsed, 0.5) * 1000:.0f} ms p99 {pct(elapsed, 0.99) * 1000:.0f} ms",
                flush=True,
            )
    finally:
        await slack.stop()


if __name__ == "__main__":
    asyncio.run(main())
