"""A review carries at most TASKMASTER_MAX_REVIEW_DIFF_BYTES of diff, and says so."""

from __future__ import annotations

from agent.models import Plan, ReviewRequest, Ticket
from agent.review_size import fit_diff
from bot.terminal import render_review

SECTION = "diff --git a/{n}.txt b/{n}.txt\n--- a/{n}.txt\n+++ b/{n}.txt\n@@ -0,0 +1 @@\n+{body}\n"


def test_a_diff_within_the_limit_is_kept_whole() -> None:
    diff = SECTION.format(n=1, body="small")
    assert fit_diff(diff, 10_000) == (diff, None)


def test_a_huge_diff_is_cut_at_a_line_and_its_size_kept() -> None:
    diff = SECTION.format(n=1, body="a") + SECTION.format(n=2, body="b" * 5_000_000)

    shown, whole = fit_diff(diff, 100_000)

    assert whole == len(diff.encode())
    assert len(shown.encode()) <= 100_000
    assert (
        shown
        == SECTION.format(n=1, body="a")
        + "diff --git a/2.txt b/2.txt\n--- a/2.txt\n+++ b/2.txt\n@@ -0,0 +1 @@\n"
    )


def test_the_terminal_shows_the_cut_diff_and_says_so() -> None:
    shown, whole = fit_diff(SECTION.format(n=1, body="x" * 3_000_000), 20_000)
    request = ReviewRequest(
        ticket=Ticket(key="TASK-1", title="Big"),
        plan=Plan(summary="s", steps=("a",)),
        iteration=1,
        revisions_left=1,
        diff=shown,
        diff_hash="h",
        files=(),
        tests=None,
        touches_tests=True,
        diff_bytes=whole,
    )

    printed = "\n".join(render_review(request))

    assert len(printed) < 25_000
    assert "The diff is 3.0 MB; this review carries its first 0.0 MB" in printed
    assert "TASKMASTER_MAX_REVIEW_DIFF_BYTES" in printed
