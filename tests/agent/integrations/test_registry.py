"""The registry picks each outside service by settings, and says which setting is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from agent.integrations import registry
from agent.integrations.github import GitHubCodeHost
from agent.integrations.local_code_host import LocalCodeHost
from agent.settings import Settings, SettingsError, load_settings


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def settings(tmp_path: Path, **values: str) -> Settings:
    return load_settings({"TASKMASTER_REPO": str(tmp_path), **values}, env_file=None)


GITHUB = {"GITHUB_REPOSITORY": "acme/app", "GITHUB_TOKEN": "t"}


async def test_registry_unset_code_host_keeps_the_old_rule(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    assert isinstance(registry.code_host(settings(tmp_path), http), LocalCodeHost)
    assert isinstance(registry.code_host(settings(tmp_path, **GITHUB), http), GitHubCodeHost)


async def test_registry_explicit_code_host_wins_over_a_configured_github(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    chosen = settings(tmp_path, TASKMASTER_CODE_HOST="local", **GITHUB)
    assert isinstance(registry.code_host(chosen, http), LocalCodeHost)
    chosen = settings(tmp_path, TASKMASTER_CODE_HOST="GitHub", **GITHUB)
    assert isinstance(registry.code_host(chosen, http), GitHubCodeHost)


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"TASKMASTER_CODE_HOST": "github"}, "GITHUB_REPOSITORY"),
        ({"TASKMASTER_CODE_HOST": "github", "GITHUB_REPOSITORY": "a/b"}, "GITHUB_TOKEN"),
    ],
)
async def test_registry_chosen_code_host_without_its_settings_names_the_missing_one(
    tmp_path: Path, http: aiohttp.ClientSession, values: dict[str, str], missing: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        registry.code_host(settings(tmp_path, **values), http)
    assert str(raised.value) == f"{missing} is not set: add it to .env (see .env.example)"


def test_settings_unknown_code_host_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        settings(tmp_path, TASKMASTER_CODE_HOST="bitbucket")
    assert str(raised.value).startswith("TASKMASTER_CODE_HOST is invalid")
    assert "'github', 'gitlab' or 'local'" in str(raised.value)


async def test_registry_unknown_ticket_source_names_the_choices(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(SettingsError) as raised:
        registry.ticket_source(settings(tmp_path, TASKMASTER_TICKETS="linear"), http)
    assert "TASKMASTER_TICKETS is not 'jira', 'gitlab' or a folder: linear" in str(raised.value)
