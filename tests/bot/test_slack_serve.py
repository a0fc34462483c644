"""`taskmaster serve` as a process: Socket Mode and HTTP, token checks, and stopping.

LocalSlack is the Slack it talks to: its Web API, and in Socket Mode its WebSocket
server (`apps.connections.open`, the `hello`, envelopes and acks).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.slack import ids
from bot.slack.conversation import BOT_EVENTS
from localslack import LocalSlack
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.bot.support import eventually, open_review, root_of, text_at
from tests.cli import spawn_cli

APP_TOKEN = "xapp-1-test"  # a stand-in: LocalSlack issues no real tokens
STOP_WITHIN = 5.0


@pytest.fixture
async def slack() -> AsyncIterator[LocalSlack]:
    local = LocalSlack(
        bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, app_token=APP_TOKEN, events=BOT_EVENTS
    )
    await local.start()
    try:
        yield local
    finally:
        await local.stop()
    assert local.refusals == [], "the bot sent what Slack would refuse"


@pytest.fixture
def serve_env(demo_env: dict[str, str], slack: LocalSlack) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TASKMASTER_", "SLACK_", "JIRA_", "GITHUB_"))
    }
    return {
        **base,
        **demo_env,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
    }


async def _line(proc: asyncio.subprocess.Process, seconds: float = 30) -> str:
    assert proc.stdout is not None
    return (await asyncio.wait_for(proc.stdout.readline(), seconds)).decode().strip()


async def _stopped_by(proc: asyncio.subprocess.Process, signum: int) -> float:
    """Send `signum`; the seconds until the process is gone."""
    loop = asyncio.get_running_loop()
    sent = loop.time()
    proc.send_signal(signum)
    await asyncio.wait_for(proc.wait(), 30)
    return loop.time() - sent


async def _finished(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_serve_socket_mode_runs_a_command_end_to_end_and_stops_on_sigterm(
    slack: LocalSlack, serve_env: dict[str, str], tmp_path: Path
) -> None:
    proc = await spawn_cli(tmp_path, {**serve_env, "SLACK_APP_TOKEN": APP_TOKEN}, "serve")
    try:
        assert (
            await _line(proc) == "taskmaster: connected as @taskmaster in LocalSlack (Socket Mode)"
        )
        assert slack.socket.active and slack.socket.connections == 1

        result = await slack.slash_command("TASK-101", user="U_ANA")  # over the WebSocket
        assert result.status == 200 and result.acked_in_time
        root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
        review = await eventually(lambda: open_review(slack, root), within=60)
        click = await slack.click("C_GENERAL", review.ts, ids.APPROVE, user="U_BEN")
        assert click.acked_in_time
        await eventually(lambda: "*Done*" in text_at(slack, root.ts), within=60)
        assert slack.calls_to("apps.connections.open")
        assert slack.events.delivered  # events came over the socket too

        took = await _stopped_by(proc, signal.SIGTERM)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert took < STOP_WITHIN and proc.returncode == 0
    assert proc.stderr is not None
    said = (await proc.stderr.read()).decode()
    assert "Traceback" not in said and "ERROR" not in said and APP_TOKEN not in said, said


@pytest.mark.parametrize(
    ("token", "why"),
    [("xapp-1-wrong", "was refused by Slack (invalid_auth)"), ("not-a-token", "starts with xapp-")],
    ids=["refused", "malformed"],
)
async def test_serve_bad_app_token_exits_2_naming_it(
    slack: LocalSlack, serve_env: dict[str, str], tmp_path: Path, token: str, why: str
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    proc = await spawn_cli(tmp_path, {**serve_env, "SLACK_APP_TOKEN": token}, "serve")

    code, out, err = await _finished(proc)

    assert loop.time() - started < STOP_WITHIN + 5  # Python start-up included
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("taskmaster: SLACK_APP_TOKEN ") and why in line
    assert token not in err  # a secret never reaches a log line


async def test_serve_refused_bot_token_exits_2_naming_it(
    slack: LocalSlack, serve_env: dict[str, str], tmp_path: Path
) -> None:
    proc = await spawn_cli(tmp_path, {**serve_env, "SLACK_BOT_TOKEN": "xoxb-wrong"}, "serve")

    code, _, err = await _finished(proc)

    assert code == 2
    assert err.strip() == (
        "taskmaster: SLACK_BOT_TOKEN was refused by Slack (invalid_auth): check it in .env"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
async def test_serve_http_says_where_it_listens_and_stops_on_signals(
    slack: LocalSlack, serve_env: dict[str, str], tmp_path: Path, signum: int
) -> None:
    port = _free_port()
    proc = await spawn_cli(tmp_path, {**serve_env, "PORT": str(port)}, "serve")
    try:
        line = await _line(proc)
        assert line == f"taskmaster: listening on :{port} as @taskmaster in LocalSlack"
        slack.app_url = f"http://127.0.0.1:{port}/slack/events"
        help_text = await slack.slash_command("help")
        assert help_text.status == 200 and "fixes a ticket" in slack.ephemerals[0].text

        took = await _stopped_by(proc, signum)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert took < STOP_WITHIN and proc.returncode == 0
    assert proc.stderr is not None
    said = (await proc.stderr.read()).decode()
    assert "Traceback" not in said and "ERROR" not in said, said
