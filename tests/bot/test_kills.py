"""SIGKILL at every step boundary up to the review, and at 20 instants inside delivery.

Real processes, real SIGKILL of the whole process group; a person then continues the
run with `taskmaster resume`. Every run reaches its review or delivers after one
resume, with exactly one pull request, branch and ticket comment, and nobody is asked
to review again after approving. `bench/kill_campaign.py` kills after every line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.kills import (
    Home,
    Outcome,
    clean_env,
    copy_home,
    delivery_window,
    kill_after_line,
    kill_in_delivery,
    reach_review,
    step_line,
)

SHARDS = 4
INSTANTS = 20


def _well(outcome: Outcome) -> None:
    assert outcome.delivered and not outcome.stuck, outcome
    assert outcome.duplicates == 0 and not outcome.asked_twice, outcome
    assert outcome.resumes <= 1, outcome


@pytest.mark.parametrize("shard", range(SHARDS))
async def test_kill_after_each_step_line_up_to_the_review(tmp_path: Path, shard: int) -> None:
    line, killed = shard + 1, 0
    while True:
        outcome = await kill_after_line(Home(tmp_path / str(line), clean_env()), line, step_line)
        if outcome is None:
            break
        _well(outcome)
        killed += 1
        line += SHARDS
    assert killed >= 2  # the demo prints nine step lines up to its review


@pytest.fixture(scope="module")
def at_review(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, float]:
    """A folder whose run waits for review, and how long its delivery takes here (made
    once per worker: each instant starts from a copy of it)."""
    template = Home(tmp_path_factory.mktemp("at-review"), clean_env())

    async def prepare() -> float:
        await reach_review(template)
        return await delivery_window(copy_home(template, tmp_path_factory.mktemp("measure")))

    return template, asyncio.run(prepare())


@pytest.mark.parametrize("shard", range(SHARDS))
async def test_kill_at_instants_inside_delivery_delivers_once(
    at_review: tuple[Home, float], tmp_path: Path, shard: int
) -> None:
    template, window = at_review
    for instant in range(shard, INSTANTS, SHARDS):
        home = copy_home(template, tmp_path / str(instant))
        _well(await kill_in_delivery(home, window * instant / (INSTANTS - 1)))
