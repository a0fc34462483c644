"""SIGKILL campaign: kill `taskmaster` after every line it prints up to the review, and at
random instants inside delivery, then continue each run as a person would.

Each kill gets a fresh folder with the demo (TASK-101, scripted model, local code host
and tickets). After the kill the run is continued with `taskmaster resume RUN` (or
started again when the kill came before it was registered) and approved once; the
table counts what a person would find:

- resumed and delivered: the run reached its pull request;
- stuck: it could not be brought there (a refusal, a run that stays failed);
- duplicate effects: pull requests, branches or ticket comments beyond one each;
- asked twice: a review shown again after an approval was claimed.

    .venv/bin/python bench/kill_campaign.py [--random N] [--seed S] [--lines-only]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the kill helpers live with the tests

from tests.kills import (  # noqa: E402
    Home,
    Outcome,
    clean_env,
    copy_home,
    delivery_window,
    kill_after_line,
    kill_in_delivery,
    reach_review,
)


async def line_kills(root: Path) -> list[Outcome]:
    outcomes = []
    line = 1
    while True:
        outcome = await kill_after_line(Home(root / f"line-{line}", clean_env()), line)
        if outcome is None:
            return outcomes
        outcomes.append(outcome)
        print(f"  {outcome.point}: {_verdict(outcome)}", flush=True)
        line += 1


async def delivery_kills(root: Path, count: int, seed: int) -> list[Outcome]:
    template = Home(root / "at-review", clean_env())
    await reach_review(template)
    window = await delivery_window(copy_home(template, root / "measure"))
    print(f"  delivery takes {window:.2f}s after its first line here", flush=True)
    chance = random.Random(seed)
    outcomes = []
    for number in range(count):
        home = copy_home(template, root / f"delivery-{number}")
        outcome = await kill_in_delivery(home, chance.uniform(0, window))
        outcomes.append(outcome)
        print(f"  {outcome.point}: {_verdict(outcome)}", flush=True)
    return outcomes


def _verdict(outcome: Outcome) -> str:
    if outcome.stuck:
        return f"STUCK ({outcome.stuck}) {outcome.log}"
    notes = []
    if outcome.duplicates:
        notes.append(f"{outcome.duplicates} duplicate effects")
    if outcome.asked_twice:
        notes.append("asked twice")
    return ", ".join(notes) or f"delivered after {outcome.resumes} resume(s)"


def table(rows: dict[str, list[Outcome]]) -> str:
    head = ("where", "kills", "resumed and delivered", "stuck", "duplicate effects", "asked twice")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, outcomes in rows.items():
        cells = (
            name,
            len(outcomes),
            sum(o.delivered for o in outcomes),
            sum(bool(o.stuck) for o in outcomes),
            sum(o.duplicates for o in outcomes),
            sum(o.asked_twice for o in outcomes),
        )
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=20, help="kills at random instants")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--lines-only", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    rows: dict[str, list[Outcome]] = {}
    with tempfile.TemporaryDirectory(prefix="kills-") as folder:
        root = Path(folder)
        print("after every line up to the review:", flush=True)
        rows["every line up to review"] = await line_kills(root)
        if not args.lines_only:
            print(f"{args.random} random instants inside delivery:", flush=True)
            rows["inside delivery"] = await delivery_kills(root, args.random, args.seed)
    rows["all"] = [o for outcomes in list(rows.values()) for o in outcomes]
    print()
    print(table(rows))
    print(f"\n{time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    asyncio.run(main())
