"""The demo as a process: it serves the page, and Ctrl-C stops it cleanly, no traceback."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from agent.settings import SettingsError, load_settings
from bot.demo import demo_running

ROOT = Path(__file__).resolve().parents[2]


async def test_demo_serves_the_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "TASKMASTER_DATA_DIR": str(tmp_path / "data"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "demo", "--port", "0",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    try:
        async with asyncio.timeout(30):
            first = (await process.stdout.readline()).decode()
        found = re.match(r"Open (http://127\.0\.0\.1:\d+) — type /taskmaster TASK-101", first)
        assert found, first
        async with aiohttp.ClientSession() as session, session.get(found[1]) as page:
            assert page.status == 200
            assert "LocalSlack" in await page.text()
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert "Traceback" not in err.decode() and "KeyboardInterrupt" not in err.decode()
    assert "Stopping the demo" in out.decode()
    assert (tmp_path / "data" / "demo" / "demo-remote" / ".git").is_dir()


async def test_demo_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"TASKMASTER_DATA_DIR": str(tmp_path / "data")}
    settings = load_settings(env, env_file=None)
    async with demo_running(settings, env, port=0) as first:
        port = int(first.url.rsplit(":", 1)[1])
        try:
            async with demo_running(settings, env, port=port):
                raise AssertionError("a second demo started on a taken port")
        except SettingsError as error:
            assert f"127.0.0.1:{port}" in str(error) and "\n" not in str(error)


async def test_a_second_demo_on_the_same_files_is_refused_and_the_first_keeps_them(
    tmp_path: Path,
) -> None:
    env = {"TASKMASTER_DATA_DIR": str(tmp_path / "data")}
    settings = load_settings(env, env_file=None)
    async with demo_running(settings, env, port=0) as first:
        remote = tmp_path / "data" / "demo" / "demo-remote" / ".git"
        assert remote.is_dir()
        try:
            async with demo_running(settings, env, port=0):
                raise AssertionError("a second demo started on the first one's files")
        except SettingsError as error:
            assert "another demo is running" in str(error) and "\n" not in str(error)
        assert remote.is_dir()  # the first demo's files are still there
        async with aiohttp.ClientSession() as session, session.get(first.url) as page:
            assert page.status == 200
    async with demo_running(settings, env, port=0):  # once the first stopped, all is well
        assert remote.is_dir()


async def test_demo_keeps_a_configured_model_and_never_talks_to_github(tmp_path: Path) -> None:
    scripts = ROOT / "examples" / "demo" / "scripts"
    env = {
        "TASKMASTER_DATA_DIR": str(tmp_path / "data"),
        "TASKMASTER_MODEL": f"scripted:{scripts}",
        "GITHUB_REPOSITORY": "someone/real-repo",
        "GITHUB_TOKEN": "ghp_not-for-the-demo",
        "SLACK_APP_TOKEN": "xapp-not-for-the-demo",
    }
    async with demo_running(load_settings(env, env_file=None), env, port=0) as demo:
        settings = demo.settings
        assert settings.model == f"scripted:{scripts}"
        assert settings.github_repository is None and settings.github_token is None
        assert settings.slack_app_token is None
        assert settings.slack_api_url == demo.slack.api_url
        assert settings.data_dir == (tmp_path / "data" / "demo").resolve()
        assert demo.slack.app_url == demo.bot.url
