"""The `taskmaster` command (DESIGN section 10).

Exit codes: 0 finished, awaiting review, rejected or cancelled by a person, or a
decision somebody else already made; 1 the run failed; 2 bad usage or settings,
with one line that says what to fix.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from dotenv import load_dotenv

from agent.demo import demo_overrides
from agent.errors import TaskmasterError
from agent.models import ReviewAction, ReviewDecision
from agent.runs.manager import RunManager, RunRefused
from agent.runs.runtime import open_runtime
from agent.runs.store import RunRecord, RunStore, TicketBusy
from agent.settings import Settings, SettingsError, load_settings
from bot.terminal import TerminalSink

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage: printed as one line, exit code 2."""


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
    run.add_argument("--decide", choices=["approve", "reject", "revise"])
    run.add_argument("--feedback", default="", help="what to change (with --decide revise)")
    run.add_argument("--by", default=None, help="who decides (default: your user name)")

    resume = commands.add_parser(
        "resume", parents=[demo], help="answer a review, or continue a stopped run"
    )
    resume.add_argument("run_id")
    resume.add_argument("decision", nargs="?", choices=["approve", "reject", "revise"])
    resume.add_argument("--feedback", default="")
    resume.add_argument("--by", default=None)

    runs = commands.add_parser("runs", help="list runs")
    runs.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("serve", parents=[demo], help="start the Slack app")

    local = commands.add_parser("demo", help="try TaskMaster in a local Slack in your browser")
    local.add_argument("--port", type=int, default=8765, help="the page's port (default 8765)")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    load_dotenv()  # before settings: provider keys in .env must reach LangChain's clients
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(dispatch(args, os.environ))
    except (SettingsError, UsageError) as exc:
        print(f"taskmaster: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("taskmaster: stopped; `taskmaster runs` shows where each run is.", file=sys.stderr)
        return EXIT_FAILED


async def dispatch(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    overrides: dict[str, str | None] = {}
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
        case "demo":
            from bot.demo import run_demo

            await run_demo(settings, environ, port=args.port)
            return EXIT_OK
        case "run":
            return await run_ticket(settings, environ, args)
        case "resume":
            return await resume_run(settings, environ, args)
    raise UsageError(f"unknown command {args.command}")


async def list_runs(settings: Settings, *, as_json: bool) -> int:
    store = await RunStore.open(settings.db_path)
    try:
        records = await store.recent(limit=1000)
    finally:
        await store.close()
    if as_json:
        print(json.dumps([record.as_json() for record in records], indent=2))
    else:
        for record in records:
            print(f"{record.run_id}  {record.ticket:<12} {record.status:<16} {record.updated_at}")
    return EXIT_OK


async def run_ticket(
    settings: Settings, environ: Mapping[str, str], args: argparse.Namespace
) -> int:
    first = _decision(args.decide, args.feedback, args.by)
    async with open_runtime(settings, environ, TerminalSink()) as manager:
        try:
            run = await manager.create(args.key, _who(args.by))
        except TaskmasterError as exc:
            raise UsageError(exc.message) from None
        except TicketBusy as busy:
            raise UsageError(
                f"{busy.run.ticket} already has an active run {busy.run.run_id} "
                f"({busy.run.status}); see `taskmaster runs`."
            ) from None
        manager.launch(run)
        return await _follow(manager, run.run_id, first, demo=args.demo)


async def resume_run(
    settings: Settings, environ: Mapping[str, str], args: argparse.Namespace
) -> int:
    async with open_runtime(settings, environ, TerminalSink()) as manager:
        try:
            if args.decision is None:
                run = await manager.resume(args.run_id)
            else:
                decision = _decision(args.decision, args.feedback, args.by)
                assert decision is not None
                run = await manager.decide(args.run_id, decision)
        except RunRefused as refused:
            print(refused.message, file=sys.stderr)
            return EXIT_OK if refused.reason == "decided" else EXIT_USAGE
        return await _follow(manager, run.run_id, None, demo=args.demo)


async def _follow(
    manager: RunManager, run_id: str, decision: ReviewDecision | None, *, demo: bool
) -> int:
    """Wait for the run; answer reviews with `decision` once, then by asking a person."""
    while True:
        record = await manager.wait(run_id)
        if record.status != "awaiting_review":
            return _exit_code(record)
        if decision is None:
            decision = await _ask(record)
        if decision is None:
            resume = f"taskmaster resume {run_id}{' --demo' if demo else ''}"
            print(f"\nWaiting for review. Answer it with: {resume} approve")
            print("(or reject, or revise --feedback TEXT)")
            return EXIT_OK
        try:
            await manager.decide(run_id, decision)
        except RunRefused as refused:
            print(refused.message, file=sys.stderr)
            return EXIT_OK if refused.reason == "decided" else EXIT_USAGE
        decision = None


async def _ask(record: RunRecord) -> ReviewDecision | None:
    """Ask at the terminal; None when there is nobody to ask."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    prompt = "\n[a]pprove, [r]equest changes, re[j]ect, or [l]ater? "
    actions: dict[str, ReviewAction] = {"a": "approve", "r": "revise", "j": "reject"}
    while True:
        answer = (await asyncio.to_thread(input, prompt)).strip().lower()[:1]
        if answer == "l":
            return None
        if answer in actions:
            feedback = ""
            if actions[answer] == "revise":
                feedback = await asyncio.to_thread(input, "What should change? ")
            return _decision(actions[answer], feedback, None)


def _decision(action: str | None, feedback: str, by: str | None) -> ReviewDecision | None:
    if action is None:
        return None
    if action == "revise" and not feedback.strip():
        raise UsageError("revise needs --feedback TEXT saying what to change")
    return ReviewDecision.model_validate({"action": action, "by": _who(by), "feedback": feedback})


def _who(by: str | None) -> str:
    return by or getpass.getuser() or "terminal"


def _exit_code(record: RunRecord) -> int:
    return EXIT_FAILED if record.status == "failed" else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
