from datetime import timedelta

import pytest

from tasktrack import Priority, TaskNotFound


def test_add_assigns_increasing_ids(service):
    first = service.add("Buy milk")
    second = service.add("Call the plumber", priority="high")
    assert (first.id, second.id) == (1, 2)
    assert second.priority is Priority.HIGH
    assert [task.title for task in service.list_tasks()] == ["Buy milk", "Call the plumber"]


def test_add_rejects_a_blank_title(service):
    with pytest.raises(ValueError, match="needs a title"):
        service.add("   ")


def test_complete_hides_the_task_from_the_open_list(service):
    task = service.add("Buy milk")
    service.add("Call the plumber")
    service.complete(task.id)
    assert task.done
    assert [t.title for t in service.list_tasks()] == ["Call the plumber"]
    assert len(service.list_tasks(include_done=True)) == 2


def test_unknown_id_raises_task_not_found(service):
    with pytest.raises(TaskNotFound, match="no task with id 42"):
        service.complete(42)


def test_remove_deletes_the_task(service):
    task = service.add("Buy milk")
    service.remove(task.id)
    assert service.list_tasks(include_done=True) == []
    with pytest.raises(TaskNotFound):
        service.get(task.id)


def test_overdue_lists_late_open_tasks_longest_overdue_first(service, today):
    service.add("Pay rent", due=today - timedelta(days=2))
    service.add("Plan the trip", due=today + timedelta(days=7))
    service.add("Return library books", due=today - timedelta(days=9))
    done = service.add("Send invoice", due=today - timedelta(days=5))
    service.complete(done.id)
    assert [task.title for task in service.overdue()] == ["Return library books", "Pay rent"]
