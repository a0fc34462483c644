"""The task model: a single task and its priority."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import IntEnum


class Priority(IntEnum):
    """How urgent a task is. A higher value means more urgent."""

    LOW = 1
    NORMAL = 2
    HIGH = 3

    @classmethod
    def parse(cls, value: Priority | str) -> Priority:
        """Return the priority for `value`: a `Priority`, or its name in any case."""
        if isinstance(value, Priority):
            return value
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = ", ".join(p.name.lower() for p in cls)
            raise ValueError(f"unknown priority {value!r} (expected one of: {names})") from None


@dataclass
class Task:
    """One thing to do, with an optional due date."""

    id: int
    title: str
    due: date | None = None
    priority: Priority = Priority.NORMAL
    done: bool = False

    def is_overdue(self, today: date) -> bool:
        """Whether the task is still open and its due date has passed."""
        return not self.done and self.due is not None and self.due <= today
