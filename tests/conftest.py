"""Fixtures shared by the whole suite: real folders, a real demo repository, real SQLite."""

from __future__ import annotations

import os
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
