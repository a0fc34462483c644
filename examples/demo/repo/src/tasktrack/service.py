"""TaskService: the operations on a collection of tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from .models import Priority, Task


class TaskNotFound(KeyError):
    """Raised when no task has the given id."""

    def __init__(self, task_id: int) -> None:
        super().__init__(task_id)
        self.task_id = task_id

    def __str__(self) -> str:
        return f"no task with id {self.task_id}"


class TaskService:
    """An in-memory collection of tasks, in the order they were added.

    `today` is called whenever the service needs the current date; tests pass a
    function that returns a fixed date so that results do not depend on the clock.
    """

    def __init__(
        self, tasks: Iterable[Task] = (), today: Callable[[], date] = date.today
    ) -> None:
        self._tasks: dict[int, Task] = {task.id: task for task in tasks}
        self._next_id = max(self._tasks, default=0) + 1
        self._today = today

    def add(
        self,
        title: str,
        due: date | None = None,
        priority: Priority | str = Priority.NORMAL,
    ) -> Task:
        """Create a task and return it. The title must not be blank."""
        title = title.strip()
        if not title:
            raise ValueError("a task needs a title")
        task = Task(self._next_id, title, due, Priority.parse(priority))
        self._tasks[task.id] = task
        self._next_id += 1
        return task

    def get(self, task_id: int) -> Task:
        """Return the task with this id, or raise `TaskNotFound`."""
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFound(task_id) from None

    def complete(self, task_id: int) -> Task:
        """Mark a task as done and return it. Completing it twice is harmless."""
        task = self.get(task_id)
        task.done = True
        return task

    def remove(self, task_id: int) -> None:
        """Delete a task for good."""
        self.get(task_id)
        del self._tasks[task_id]

    def list_tasks(self, include_done: bool = False) -> list[Task]:
        """The open tasks, or all of them with `include_done`, oldest first."""
        return [task for task in self._tasks.values() if include_done or not task.done]

    def overdue(self) -> list[Task]:
        """The open tasks whose due date has passed, the longest overdue first."""
        today = self._today()
        late = [task for task in self._tasks.values() if task.is_overdue(today)]
        return sorted(late, key=lambda task: task.due)
