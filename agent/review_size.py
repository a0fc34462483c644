"""A review's diff cut to what a review carries (TASKMASTER_MAX_REVIEW_DIFF_BYTES).

A huge change (a generated file, a vendored folder) must not be dumped into a
terminal, attached to Slack or kept in every checkpoint. The diff is cut after the
last whole line that fits, and the review says how big the whole diff is (its file
list is always whole); the approval hash is computed over the whole change before
this, so approving still means exactly this tree.
"""

from __future__ import annotations


def fit_diff(diff: str, limit: int) -> tuple[str, int | None]:
    """(the diff within `limit` bytes, the whole diff's size if it was cut, else None)."""
    size = len(diff.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return diff, None
    kept: list[str] = []
    used = 0
    for line in diff.splitlines(keepends=True):
        length = len(line.encode("utf-8", "surrogatepass"))
        if used + length > limit:
            break
        kept.append(line)
        used += length
    return "".join(kept), size
