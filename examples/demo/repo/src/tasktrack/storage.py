"""Saving tasks to a JSON file and reading them back."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from .models import Priority, Task


def task_to_dict(task: Task) -> dict[str, Any]:
    """The task as plain JSON data."""
    return {
        "id": task.id,
        "title": task.title,
        "due": task.due.isoformat() if task.due else None,
        "priority": task.priority.name.lower(),
        "done": task.done,
    }


def task_from_dict(data: dict[str, Any]) -> Task:
    """The inverse of `task_to_dict`."""
    return Task(
        id=data["id"],
        title=data["title"],
        due=date.fromisoformat(data["due"]) if data.get("due") else None,
        priority=Priority.parse(data.get("priority", "normal")),
        done=data.get("done", False),
    )


def save_tasks(tasks: Iterable[Task], path: str | os.PathLike[str]) -> None:
    """Write the tasks to `path` as JSON.

    The file is written beside the target first and then renamed over it, so a
    crash halfway never leaves a truncated file behind.
    """
    path = Path(path)
    text = json.dumps([task_to_dict(task) for task in tasks], indent=2) + "\n"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def load_tasks(path: str | os.PathLike[str]) -> list[Task]:
    """Read tasks written by `save_tasks`. A missing file means no tasks yet."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [task_from_dict(item) for item in json.loads(text)]
