"""Start-up and ack latency: `taskmaster --help`, `serve` to ready, and slash-command acks.

Each figure beside its baseline, measured in the same run:

- `taskmaster --help` (goal under 150 ms) against bare `python -c pass`;
- `taskmaster serve` (HTTP, the demo's repository and scripted model, LocalSlack as
  Slack) from spawning it to its "listening" line, against a bare Bolt app that only
  acks (`BARE_APP` below: the same Bolt, aiohttp and LocalSlack, nothing else);
- ack latency of `/taskmaster` with 50 commands in flight, p50 and p99: the first
  burst right after the ready line, then a warm burst, against the bare app's (goal:
  within 1.2x of it). TaskMaster's commands name unknown tickets, so each is acked
  and then refused in a message (its real work, after the ack).

With `--baseline REF` it also measures `taskmaster` from git ref REF (a temporary
worktree first on `PYTHONPATH`), beside this tree's.

    .venv/bin/python bench/startup.py [--runs N] [--in-flight N] [--baseline REF]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.demo import prepare_demo  # noqa: E402
from localslack import LocalSlack  # noqa: E402

TOKEN, SECRET = "xoxb-bench", "bench-secret"

BARE_APP = """
import asyncio, os
from aiohttp import web
from slack_bolt.async_app import AsyncApp

async def main():
    app = AsyncApp(token=os.environ["SLACK_BOT_TOKEN"],
                   signing_secret=os.environ["SLACK_SIGNING_SECRET"])
    app.client.base_url = os.environ["SLACK_API_URL"]

    @app.command("/taskmaster")
    async def only_ack(ack):
        await ack()

    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(os.environ["PORT"])).start()
    print("listening", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def burst(slack: LocalSlack, in_flight: int) -> list[float]:
    keys = [f"LOAD-{n}" for n in range(1, in_flight + 1)]
    results = await asyncio.gather(*(slack.slash_command(key) for key in keys))
    assert all(result.status == 200 for result in results), [r.status for r in results]
    return [result.elapsed for result in results]


async def one_server(
    argv: list[str], env: dict[str, str], slack: LocalSlack, in_flight: int
) -> tuple[float, list[float], list[float]]:
    """Seconds to the ready line, then the first and a warm burst's ack times."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            while b"listening" not in (line := await proc.stdout.readline()):
                if not line:
                    err = await proc.stderr.read() if proc.stderr else b""
                    raise RuntimeError(f"{argv} ended before it was ready:\n{err.decode()}")
        ready = time.perf_counter() - started
        slack.app_url = f"http://127.0.0.1:{env['PORT']}/slack/events"
        first = await burst(slack, in_flight)
        await asyncio.sleep(2)  # the refusals' messages go out; then a warm burst
        warm = await burst(slack, in_flight)
        return ready, first, warm
    finally:
        proc.terminate()
        await proc.wait()


async def serving(args: argparse.Namespace, code: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="taskmaster-startup-") as scratch:
        data = Path(scratch) / "data"
        slack = LocalSlack(bot_token=TOKEN, signing_secret=SECRET)
        await slack.start()
        try:
            env = {
                **os.environ,
                **await prepare_demo(data),
                "TASKMASTER_DATA_DIR": str(data),
                "TASKMASTER_CODE_HOST": "local",
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url,
            }
            if code is not None:
                env["PYTHONPATH"] = str(code)
            rows: dict[str, list[tuple[float, list[float], list[float]]]] = {"bare": [], "tm": []}
            for _ in range(args.runs):
                for name, argv in (
                    ("bare", [sys.executable, "-c", BARE_APP]),
                    ("tm", [sys.executable, "-m", "bot.cli", "serve"]),
                ):
                    port = {"PORT": str(free_port())}
                    rows[name].append(
                        await one_server(argv, {**env, **port}, slack, args.in_flight)
                    )
        finally:
            await slack.stop()
    figures = {}
    for name, runs in rows.items():
        figures[name] = (
            statistics.median(r[0] for r in runs),
            statistics.median(percentile(r[1], 0.99) for r in runs),
            statistics.median(percentile(r[2], 0.99) for r in runs),
            statistics.median(percentile(r[2], 0.5) for r in runs),
        )
    bare, tm = figures["bare"], figures["tm"]
    print(f"serve to ready: {tm[0] * 1000:.0f} ms; bare Bolt app {bare[0] * 1000:.0f} ms")
    print(
        f"first burst of {args.in_flight}, ack p99: {tm[1] * 1000:.0f} ms; bare"
        f" {bare[1] * 1000:.0f} ms ({tm[1] / bare[1]:.2f}x)"
    )
    print(
        f"warm burst of {args.in_flight}, ack p99: {tm[2] * 1000:.0f} ms; bare"
        f" {bare[2] * 1000:.0f} ms ({tm[2] / bare[2]:.2f}x); p50 {tm[3] * 1000:.0f} ms,"
        f" bare {bare[3] * 1000:.0f} ms"
    )


def measure(args: argparse.Namespace, code: Path | None) -> None:
    env = {**os.environ, "PYTHONPATH": str(code)} if code else dict(os.environ)
    cli = [sys.executable, "-m", "bot.cli", "--help"]
    bare = timed([sys.executable, "-c", "pass"], env, args.runs * 3)
    helped = timed(cli, env, args.runs * 3)
    print(f"taskmaster --help: {helped * 1000:.0f} ms; bare python {bare * 1000:.0f} ms")
    asyncio.run(serving(args, code))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--baseline", metavar="REF")
    args = parser.parse_args()
    os.chdir(tempfile.gettempdir())  # no `agent` from the current folder
    if args.baseline:
        with tempfile.TemporaryDirectory(prefix="taskmaster-baseline-") as scratch:
            tree = Path(scratch) / "tree"
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(ROOT),
                    "worktree",
                    "add",
                    "--detach",
                    "-q",
                    str(tree),
                    args.baseline,
                ],
                check=True,
            )
            try:
                print(f"baseline: {args.baseline}", flush=True)
                measure(args, tree)
            finally:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                    check=True,
                )
        print("this tree:", flush=True)
    measure(args, None)


if __name__ == "__main__":
    main()
