from datetime import timedelta

import pytest

from tasktrack import Priority, Task


def test_priority_parse_accepts_names_in_any_case():
    assert Priority.parse("high") is Priority.HIGH
    assert Priority.parse(" Low ") is Priority.LOW
    assert Priority.parse(Priority.NORMAL) is Priority.NORMAL


def test_priority_parse_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown priority 'urgent'"):
        Priority.parse("urgent")


def test_task_past_due_is_overdue(today):
    task = Task(1, "File taxes", due=today - timedelta(days=1))
    assert task.is_overdue(today)


def test_task_due_later_is_not_overdue(today):
    task = Task(1, "Book flights", due=today + timedelta(days=3))
    assert not task.is_overdue(today)


def test_done_or_undated_tasks_are_never_overdue(today):
    done = Task(1, "Renew passport", due=today - timedelta(days=30), done=True)
    undated = Task(2, "Learn the banjo")
    assert not done.is_overdue(today)
    assert not undated.is_overdue(today)
