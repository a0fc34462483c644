"""tasktrack: a tiny task tracker.

    >>> from tasktrack import TaskService
    >>> tasks = TaskService()
    >>> tasks.add("Water the plants", priority="high").id
    1
"""

from .formatting import format_task, format_tasks
from .models import Priority, Task
from .service import TaskNotFound, TaskService
from .storage import load_tasks, save_tasks

__all__ = [
    "Priority",
    "Task",
    "TaskNotFound",
    "TaskService",
    "format_task",
    "format_tasks",
    "load_tasks",
    "save_tasks",
]
