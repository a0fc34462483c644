"""Plain-text rendering of tasks, one line each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from .models import Task


def format_task(task: Task, today: date) -> str:
    """One line, e.g. `[ ] #3 Pay rent (high, due 2024-06-01)`."""
    box = "[x]" if task.done else "[ ]"
    details = [task.priority.name.lower()]
    if task.due is not None:
        details.append(f"due {task.due.isoformat()}")
    if task.is_overdue(today):
        details.append("OVERDUE")
    return f"{box} #{task.id} {task.title} ({', '.join(details)})"


def format_tasks(tasks: Iterable[Task], today: date) -> str:
    """One line per task, or a friendly note when there are none."""
    lines = [format_task(task, today) for task in tasks]
    return "\n".join(lines) if lines else "Nothing to do."
