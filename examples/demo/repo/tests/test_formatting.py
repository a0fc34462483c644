from datetime import date

from tasktrack import Priority, Task, format_task, format_tasks


def test_format_task_shows_status_priority_and_due_date(today):
    task = Task(3, "Pay rent", due=date(2024, 6, 1), priority=Priority.HIGH)
    assert format_task(task, today) == "[ ] #3 Pay rent (high, due 2024-06-01)"


def test_format_task_flags_overdue_tasks(today):
    task = Task(4, "Return library books", due=date(2024, 5, 1))
    expected = "[ ] #4 Return library books (normal, due 2024-05-01, OVERDUE)"
    assert format_task(task, today) == expected


def test_format_tasks_of_nothing(today):
    assert format_tasks([], today) == "Nothing to do."
