from datetime import date

import pytest

from tasktrack import TaskService


@pytest.fixture
def today() -> date:
    """The date every test treats as today, so no result depends on the real clock."""
    return date(2024, 5, 14)


@pytest.fixture
def service(today) -> TaskService:
    return TaskService(today=lambda: today)
