"""Fixtures shared by the whole suite: real folders, a real demo repository, real SQLite,
real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.demo import prepare_demo
from agent.integrations import registry
from agent.sandbox.base import Sandbox
from agent.settings import Settings, load_settings


@pytest.fixture
async def demo_env(tmp_path: Path) -> dict[str, str]:
    """Environment settings for a run of the demo in a private data folder."""
    data_dir = tmp_path / "data"
    env = await prepare_demo(data_dir)
    env["TASKMASTER_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture
def demo_settings(demo_env: dict[str, str]) -> Settings:
    return load_settings(demo_env, env_file=None)


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    """The product's default sandbox (bubblewrap), as the registry builds it from settings."""
    settings = load_settings({"TASKMASTER_DATA_DIR": str(tmp_path / "data")})
    return registry.sandbox(settings, os.environ)


# The modules whose tests take longest (seconds each, most of it waiting on processes)
# go first: xdist hands tests out in collection order, so they start at once on every
# worker instead of one of them starting last and running on alone.
SLOW_FIRST = (
    "tests/bot/test_storage_faults.py",
    "tests/bot/test_kills.py",
    "tests/many/test_processes.py",
    "tests/browser/test_demo.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::")[0]
        return SLOW_FIRST.index(module) if module in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each module keeps its order and its fixtures


POSTGRES = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test session (each xdist worker its own), dropped at its end.

    In CI (CI set) PostgreSQL must be there; elsewhere the tests that need it skip
    with one line when it is not.
    """
    import psycopg  # here, so a venv made before it was a dependency still runs the rest

    try:
        admin = psycopg.connect(f"{POSTGRES}/test", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 ({type(error).__name__}); CI runs these")
    name = f"taskmaster_test_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{POSTGRES}/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """TASKMASTER_DATABASE_URL for one test: its own schema in the session's database."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres_database}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
