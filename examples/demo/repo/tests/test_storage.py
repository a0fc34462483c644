from datetime import date

from tasktrack import Priority, Task, load_tasks, save_tasks


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "tasks.json"
    tasks = [
        Task(1, "Buy milk"),
        Task(2, "Pay rent", due=date(2024, 6, 1), priority=Priority.HIGH, done=True),
    ]
    save_tasks(tasks, path)
    assert load_tasks(path) == tasks
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.json"]


def test_load_a_missing_file_returns_no_tasks(tmp_path):
    assert load_tasks(tmp_path / "nothing-here.json") == []
