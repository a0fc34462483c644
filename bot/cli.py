"""The `taskmaster` command: run, resume, runs, serve, worker and demo.

Exit codes: 0 finished, awaiting review, rejected or cancelled by a person, or a
decision somebody else already made; 1 the run failed; 2 bad usage or settings,
with one line that says what to fix; 75 the data folder cannot be written (read-only,
full, or its database locked by another process past the wait), in one line naming
the fault and the fix, for a supervisor to retry later; 130 stopped with Ctrl-C (the
run stays where it was, and the command that continues it is printed). Every command
printed works when pasted into the same shell, in the same folder.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.invocation import invocation

# The engine (LangGraph, LangChain, aiohttp, pydantic) takes most of a second to
# import: each command imports what it needs when it runs, so `--help` and a usage
# error answer at once.
if TYPE_CHECKING:
    from agent.models import ReviewAction, ReviewDecision
    from agent.runs.manager import RunManager
    from agent.runs.records import RunRecord
    from agent.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_STORAGE = 75  # sysexits' EX_TEMPFAIL: try again once the fault is fixed


class UsageError(Exception):
    """Bad usage: printed as one line, exit code 2."""


@dataclass
class Session:
    """What this command is doing, for the line Ctrl-C prints."""

    run_id: str | None = None
    demo: bool = False
    awaiting_review: bool = False
    data_dir: Path | None = None  # for naming a storage fault

    def command(self, *words: str) -> str:
        demo = ["--demo"] if self.demo else []
        return " ".join([invocation(), *(shlex.quote(w) for w in (*words, *demo))])

    def interrupted(self) -> str:
        if self.run_id is None:
            return f"taskmaster: stopped; `{invocation()} runs` shows where each run is."
        if self.awaiting_review:
            answer = self.command("resume", self.run_id, "approve")
            return (
                f"taskmaster: stopped; the run waits for review. Answer it with:\n  {answer}\n"
                "(or reject, or revise --feedback TEXT)"
            )
        resume = self.command("resume", self.run_id)
        return f"taskmaster: stopped; the run continues from where it was with:\n  {resume}"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="taskmaster", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    demo = argparse.ArgumentParser(add_help=False)
    demo.add_argument(
        "--demo",
        action="store_true",
        help="use the demo repository, tickets and scripted model (examples/demo)",
    )

    run = commands.add_parser("run", parents=[demo], help="run a ticket in the terminal")
    run.add_argument("key", help="ticket key, e.g. TASK-101 (Jira) or '#12' (GitLab)")
    run.add_argument(
        "--decide",
        choices=["approve", "reject", "revise"],
        help="answer the first review without asking",
    )
    run.add_argument("--feedback", default="", help="what to change (with --decide revise)")
    run.add_argument("--by", default=None, help="who decides (default: your user name)")

    resume = commands.add_parser(
        "resume", parents=[demo], help="answer a review, or continue a stopped run"
    )
    resume.add_argument("run_id")
    resume.add_argument("decision", nargs="?", choices=["approve", "reject", "revise"])
    resume.add_argument("--feedback", default="", help="what to change (with revise)")
    resume.add_argument("--by", default=None, help="who decides (default: your user name)")

    runs = commands.add_parser("runs", help="list runs")
    runs.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("serve", parents=[demo], help="start the Slack app")
    worker_help = "drive runs from the queue (with TASKMASTER_DATABASE_URL)"
    commands.add_parser("worker", help=worker_help, description=f"taskmaster worker: {worker_help}")

    local = commands.add_parser("demo", help="try TaskMaster in a local Slack in your browser")
    local.add_argument("--port", type=int, default=8765, help="the page's port (default 8765)")
    local.add_argument(
        "--surface",
        choices=("thread", "agent"),
        default=None,
        help="Slack's plain thread, or its agent surface with a code channel per run "
        "(default: TASKMASTER_SLACK_SURFACE)",
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from dotenv import load_dotenv

    from agent.settings import SettingsError

    # The .env of the folder the command runs in (not of the installed package), before
    # settings: provider keys in it must reach LangChain's clients too.
    load_dotenv(Path.cwd() / ".env")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # psycopg warns at each reconnect attempt while PostgreSQL is away; what the person
    # needs is the one line `storage_fault` says (and the retries are not theirs to act on).
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    session = Session(demo=bool(getattr(args, "demo", False)))
    try:
        return asyncio.run(dispatch(args, os.environ, session))
    except (SettingsError, UsageError) as exc:
        print(f"taskmaster: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(session.interrupted(), file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        from agent.storage import storage_fault

        fault = storage_fault(exc, session.data_dir or Path.cwd())
        if fault is None:
            raise
        print(f"taskmaster: {fault.message}", file=sys.stderr)
        return EXIT_STORAGE


async def dispatch(
    args: argparse.Namespace, environ: Mapping[str, str], session: Session | None = None
) -> int:
    from agent.demo import demo_overrides
    from agent.settings import load_settings

    session = session or Session(demo=bool(getattr(args, "demo", False)))
    overrides: dict[str, str | None] = {}
    session.data_dir = load_settings(environ).data_dir
    if getattr(args, "demo", False):
        data_dir = load_settings(environ).data_dir
        overrides = await demo_overrides(data_dir)
    settings = load_settings(environ, overrides=overrides)
    match args.command:
        case "runs":
            return await list_runs(settings, as_json=args.json)
        case "serve":
            from bot.slack.server import serve  # Slack stays unloaded for terminal commands

            await serve(settings, environ)
            return EXIT_OK
        case "worker":
            from bot.worker import work

            await work(settings, environ)
            return EXIT_OK
        case "demo":
            from bot.demo import on_surface, run_demo

            if args.surface is not None:
                settings = on_surface(settings, args.surface)
            await run_demo(settings, environ, port=args.port)
            return EXIT_OK
        case "run":
            return await run_ticket(settings, environ, args, session)
        case "resume":
            return await resume_run(settings, environ, args, session)
    raise UsageError(f"unknown command {args.command}")


async def list_runs(settings: Settings, *, as_json: bool) -> int:
    from agent.integrations import registry

    async with registry.run_registry(settings) as store:
        records = await store.recent(limit=1000)
    if as_json:
        print(json.dumps([record.as_json() for record in records], indent=2))
    elif not records:
        print(f"No runs yet: `{invocation()} run KEY` starts one.")
    else:
        print(f"{'RUN':<12}  {'TICKET':<12} {'STATUS':<16} UPDATED")
        for record in records:
            print(
                f"{record.run_id:<12}  {record.ticket:<12} {record.status:<16} {record.updated_at}"
            )
    return EXIT_OK


async def run_ticket(
    settings: Settings, environ: Mapping[str, str], args: argparse.Namespace, session: Session
) -> int:
    from agent.errors import TaskmasterError
    from agent.runs.records import TicketBusy
    from agent.runs.runtime import open_runtime
    from bot.terminal import TerminalSink

    first = _decision(args.decide, args.feedback, args.by)
    async with open_runtime(settings, environ, TerminalSink(demo=args.demo)) as manager:
        try:
            # The ticket first, as Slack does: a bad key leaves no failed run behind.
            ticket = await manager.fetch_ticket(args.key)
            run = await manager.create(ticket.key, _who(args.by))
        except TaskmasterError as exc:
            raise UsageError(exc.message) from None
        except TicketBusy as busy:
            raise UsageError(
                f"{busy.run.ticket} already has an active run {busy.run.run_id} "
                f"({busy.run.status}); see `{invocation()} runs`."
            ) from None
        session.run_id = run.run_id
        manager.launch(run, ticket=ticket)
        return await _follow(manager, run.run_id, first, session)


async def resume_run(
    settings: Settings, environ: Mapping[str, str], args: argparse.Namespace, session: Session
) -> int:
    from agent.runs.manager import RunRefused
    from agent.runs.runtime import open_runtime
    from bot.terminal import TerminalSink

    session.run_id = args.run_id
    async with open_runtime(settings, environ, TerminalSink(demo=args.demo)) as manager:
        try:
            if args.decision is None:
                run = await manager.resume(args.run_id)
            else:
                decision = _decision(args.decision, args.feedback, args.by)
                assert decision is not None
                run = await manager.decide(args.run_id, decision)
        except RunRefused as refused:
            waiting = refused.run is not None and refused.run.status == "awaiting_review"
            if args.decision is None and waiting:
                # Nothing to continue: the run waits for its review. Ask for it here, or
                # say how to give it, as `run` does.
                return await _follow(manager, args.run_id, None, session)
            print(refused.message, file=sys.stderr)
            return EXIT_OK if refused.reason == "decided" else EXIT_USAGE
        return await _follow(manager, run.run_id, None, session)


async def _follow(
    manager: RunManager, run_id: str, decision: ReviewDecision | None, session: Session
) -> int:
    """Wait for the run; answer reviews with `decision` once, then by asking a person."""
    from agent.runs.manager import RunRefused

    while True:
        session.awaiting_review = False
        record = await manager.wait(run_id)
        if record.status != "awaiting_review":
            return _exit_code(record)
        session.awaiting_review = True
        if decision is None:
            decision = await _ask(record)
        if decision is None:
            answer = session.command("resume", run_id, "approve")
            print(f"\nWaiting for review. Answer it with: {answer}")
            print("(or reject, or revise --feedback TEXT)")
            return EXIT_OK
        try:
            await manager.decide(run_id, decision)
        except RunRefused as refused:
            print(refused.message, file=sys.stderr)
            return EXIT_OK if refused.reason == "decided" else EXIT_USAGE
        decision = None


async def _ask(record: RunRecord) -> ReviewDecision | None:
    """Ask at the terminal; None when there is nobody to ask (or the input ends)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    prompt = "\n[a]pprove, [r]equest changes, re[j]ect, or [l]ater? "
    actions: dict[str, ReviewAction] = {"a": "approve", "r": "revise", "j": "reject"}
    while True:
        line = await read_line(prompt)
        answer = (line or "l").strip().lower()[:1]
        if answer == "l":
            return None
        if answer in actions:
            feedback = ""
            if actions[answer] == "revise":
                feedback = (await read_line("What should change? ") or "").strip()
                if not feedback:  # nothing said: back to the choice, not an error
                    print("Say what should change, or choose again.")
                    continue
            return _decision(actions[answer], feedback, None)


async def read_line(prompt: str) -> str | None:
    """One line from the terminal, read on the event loop: no thread holds the process
    when Ctrl-C ends it. None at the end of the input."""
    print(prompt, end="", flush=True)
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if not line.done():
            line.set_result(sys.stdin.readline())

    loop.add_reader(fd, readable)
    try:
        text = await line
    finally:
        loop.remove_reader(fd)
    return text.rstrip("\n") if text else None


def _decision(action: str | None, feedback: str, by: str | None) -> ReviewDecision | None:
    if action is None:
        return None
    if action == "revise" and not feedback.strip():
        raise UsageError("revise needs --feedback TEXT saying what to change")
    from agent.models import ReviewDecision

    return ReviewDecision.model_validate({"action": action, "by": _who(by), "feedback": feedback})


def _who(by: str | None) -> str:
    return by or getpass.getuser() or "terminal"


def _exit_code(record: RunRecord) -> int:
    return EXIT_FAILED if record.status == "failed" else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
