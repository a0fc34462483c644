"""Many processes on one PostgreSQL: two `serve` and two `worker`, as a team deploys them.

Everything is real: the processes are `python -m bot.cli serve|worker` on one database
(each test its own schema), LocalSlack delivers Slack's requests to either `serve`
over signed HTTP, the workers drive the demo's runs with the scripted model (paced,
so a run is still working when a test acts on it) and write the threads, and they
deliver to the fake GitHub (a real HTTP server, which refuses what GitHub refuses)
in front of the demo's git repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
import psycopg
import pytest
from aiohttp import web

from bot.slack import ids
from bot.slack.reporter import HEARTBEAT_S
from localslack import LocalSlack, Message
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.bot.support import (
    CHANNEL,
    block_text,
    delete_message,
    eventually,
    open_review,
    remote_branches,
    reviews_in,
    root_of,
    text_at,
    thread_of,
)
from tests.cli import spawn_cli
from tests.fakes.github import FakeGitHub

PEOPLE = ("U_ANA", "U_BEN", "U_CHO")  # LocalSlack's workspace
GITHUB_TOKEN = "gh-token-many"
WORKER_TIMEOUT = 3.0  # TASKMASTER_WORKER_TIMEOUT for these tests: the bound they check


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _paced_scripts(source: Path, target: Path, seconds: float) -> Path:
    """The demo's scripts, each model turn taking `seconds`."""
    target.mkdir()
    for script in source.glob("*.json"):
        body = json.loads(script.read_text())
        body = body if isinstance(body, dict) else {"turns": body}
        (target / script.name).write_text(json.dumps({**body, "seconds_per_turn": seconds}))
    return target


class Balancer:
    """A load balancer on 127.0.0.1: each request goes to the next `serve`, in turn."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self.sent = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/slack/events", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/slack/events"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        upstream = self.upstreams[self.sent % len(self.upstreams)]
        self.sent += 1
        body = await request.read()
        keep = ("Content-Type", "X-Slack-Signature", "X-Slack-Request-Timestamp")
        headers = {name: request.headers[name] for name in keep if name in request.headers}
        async with (
            aiohttp.ClientSession() as http,
            http.post(upstream, data=body, headers=headers) as answer,
        ):
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                content_type=answer.content_type,
            )


@dataclass
class Cluster:
    """The processes of one test, and where LocalSlack sends each request."""

    env: dict[str, str]
    home: Path
    slack: LocalSlack
    remote: Path  # the repository behind GitHub
    serves: list[str] = field(default_factory=list)  # their request URLs
    serve_procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    workers: list[asyncio.subprocess.Process] = field(default_factory=list)
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    balancers: list[Balancer] = field(default_factory=list)

    async def start_serve(self) -> str:
        port = _free_port()
        proc = await self._spawn({"PORT": str(port)}, "serve")
        assert (await _line(proc)).startswith(f"taskmaster: listening on :{port}")
        url = f"http://127.0.0.1:{port}/slack/events"
        self.serves.append(url)
        self.serve_procs.append(proc)
        return url

    async def stop_serves(self) -> None:
        """Stop every `serve` (SIGTERM), as a deploy does before starting the new ones."""
        for proc in self.serve_procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.serve_procs:
            assert await asyncio.wait_for(proc.wait(), 20) == 0
        self.serves.clear()
        self.serve_procs.clear()

    async def start_worker(self) -> asyncio.subprocess.Process:
        proc = await self._spawn({}, "worker")
        assert (await _line(proc)).startswith("taskmaster: worker ready")
        self.workers.append(proc)
        return proc

    async def balanced(self) -> Balancer:
        """LocalSlack's requests spread over every `serve`, in turn, from now on."""
        balancer = Balancer(self.serves)
        await balancer.start()
        self.slack.app_url = balancer.url
        self.balancers.append(balancer)
        return balancer

    def via(self, serve: int) -> LocalSlack:
        """LocalSlack, sending its next requests to `serve` (0 or 1)."""
        self.slack.app_url = self.serves[serve]
        return self.slack

    async def _spawn(self, extra: dict[str, str], command: str) -> asyncio.subprocess.Process:
        proc = await spawn_cli(self.home, {**self.env, **extra}, command)
        self.procs.append(proc)
        return proc

    async def stop(self) -> list[str]:
        """Stop every process (SIGTERM); what each wrote to stderr."""
        for balancer in self.balancers:
            await balancer.stop()
        said = []
        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            assert proc.stderr is not None
            said.append((await proc.stderr.read()).decode())
        return said


async def _line(proc: asyncio.subprocess.Process, seconds: float = 60) -> str:
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), seconds)).decode().strip()
    if not line and proc.stderr is not None:
        raise AssertionError((await proc.stderr.read()).decode())
    return line


@pytest.fixture
async def slack() -> AsyncIterator[LocalSlack]:
    from bot.slack.conversation import BOT_EVENTS

    local = LocalSlack(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, events=BOT_EVENTS)
    await local.start()
    try:
        yield local
    finally:
        await local.stop()
    assert local.refusals == [], "the bot sent what Slack would refuse"


@pytest.fixture
async def github(demo_env: dict[str, str]) -> AsyncIterator[FakeGitHub]:
    """GitHub in front of the demo's repository: the pushes land in it, the pulls here."""
    remote = Path(demo_env["TASKMASTER_REPO"])
    async with FakeGitHub(remote.as_uri(), repository="acme/tasktrack", token=GITHUB_TOKEN) as fake:
        yield fake


@pytest.fixture
async def cluster(
    demo_env: dict[str, str],
    postgres_url: str,
    slack: LocalSlack,
    github: FakeGitHub,
    tmp_path: Path,
) -> AsyncIterator[Cluster]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TASKMASTER_", "SLACK_", "JIRA_", "GITHUB_"))
    }
    scripts = Path(demo_env["TASKMASTER_MODEL"].removeprefix("scripted:"))
    paced = _paced_scripts(scripts, tmp_path / "scripts", 0.5)
    env = {
        **base,
        **demo_env,
        "TASKMASTER_MODEL": f"scripted:{paced}",
        "TASKMASTER_DATABASE_URL": postgres_url,
        "TASKMASTER_WORKER_TIMEOUT": str(WORKER_TIMEOUT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "GITHUB_REPOSITORY": f"{github.owner}/{github.name}",
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "GITHUB_API_URL": github.url,
    }
    running = Cluster(env, tmp_path, slack, Path(demo_env["TASKMASTER_REPO"]))
    async with _cluster_slot():
        try:
            await asyncio.gather(running.start_serve(), running.start_serve())
            await asyncio.gather(running.start_worker(), running.start_worker())
            yield running
        finally:
            said = await running.stop()
            if os.environ.get("SHOW_STDERR"):
                print("\n=====\n".join(said))
    for text in said:
        assert "Traceback" not in text, text


# A cluster holds up to about 35 connections at its peak (4 processes, each with its
# pools), and PostgreSQL allows 100 by default: at most this many clusters run at once
# on the machine, whatever the number of pytest processes.
CLUSTER_SLOTS = 2


@contextlib.asynccontextmanager
async def _cluster_slot() -> AsyncIterator[None]:
    """Hold one of `CLUSTER_SLOTS` machine-wide locks (files in the temp folder)."""
    handle = await _take_slot()
    try:
        yield
    finally:
        handle.close()  # and the lock with it


async def _take_slot() -> IO[str]:
    folder = Path(tempfile.gettempdir())
    async with asyncio.timeout(600):
        while True:
            for n in range(CLUSTER_SLOTS):
                handle = (folder / f"taskmaster-test-cluster-{n}.lock").open("a")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                return handle
            await asyncio.sleep(0.1)  # another process's lock has no event to wait on


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Wait for an asynchronous condition (a row in the database, a process's work)."""
    try:
        async with asyncio.timeout(within):
            while not await check():  # noqa: ASYNC110 - the database has no event to wait on
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {within}s waiting for {what}") from None


async def _owner_of(url: str, ticket: str) -> dict[str, object]:
    """The ticket's run once a worker drives it."""
    found: dict[str, object] = {}

    async def driven() -> bool:
        found.update(await _run_row(url, ticket))
        return bool(found["owner"])

    await until(driven, 30, "a worker to take the run")
    return found


async def _run_row(url: str, ticket: str) -> dict[str, object]:
    async with await psycopg.AsyncConnection.connect(url) as db:
        cursor = await db.execute(
            "SELECT run_id, status, owner FROM runs WHERE ticket = %s ORDER BY seq DESC LIMIT 1",
            (ticket,),
        )
        row = await cursor.fetchone()
    assert row is not None, f"no run of {ticket}"
    return {"run_id": row[0], "status": row[1], "owner": row[2]}


def _story(slack: LocalSlack, root: Message) -> list[str]:
    """The thread as a person reads it, oldest first: what each message is.

    The progress card (the first reply, edited in place) is "progress"; a review is
    its header, a diff file its name, any other message its first words.
    """
    story = []
    for n, message in enumerate(thread_of(slack, root)):
        headers = [b["text"]["text"] for b in message.blocks or [] if b.get("type") == "header"]
        if n == 0:
            story.append("progress")
        elif headers:
            story.append(headers[0])
        elif message.files:
            story.append(" ".join(str(f["name"]) for f in message.files))
        else:
            story.append(message.text.split(":")[0] if message.text else "(empty)")
    return story


# The thread of a run whose review was lost and shown again: the lost review's diff
# stays, then the review and its diff.
REVIEW_SHOWN_AGAIN = [
    "progress",
    "Plan",
    "TASK-101-review-1.diff",
    "Review 1 of 4: TASK-101",
    "TASK-101-review-1.diff",
]


async def _first_review_shown(slack: LocalSlack, root: Message) -> None:
    """The thread once the first review's diff is posted: each message once, in order."""
    await eventually(lambda: _story(slack, root)[-1].endswith(".diff"), what="the diff")
    assert _story(slack, root) == [
        "progress",
        "Plan",
        "Review 1 of 4: TASK-101",
        "TASK-101-review-1.diff",
    ]


async def test_two_serves_two_workers_carry_a_run_from_command_to_pull_request(
    cluster: Cluster, slack: LocalSlack, github: FakeGitHub
) -> None:
    balancer = await cluster.balanced()  # each request to the next serve
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
    first = await eventually(lambda: open_review(slack, root), within=60, what="the review")
    await slack.click(CHANNEL, first.ts, ids.REVISE, user="U_ANA")
    [modal] = await eventually(lambda: list(slack.open_views.values()), what="the modal")
    feedback = "Also cover a task due yesterday."
    sent = await slack.submit_view(modal.id, {ids.FEEDBACK_BLOCK: {ids.FEEDBACK_INPUT: feedback}})
    assert sent.acked_in_time
    review = await eventually(lambda: open_review(slack, root, iteration=2), within=60)
    click = await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
    assert click.acked_in_time and balancer.sent >= 4  # and the Events API's deliveries
    await eventually(lambda: "*Done*" in text_at(slack, root.ts), within=60, what="Done")
    [pull] = github.pulls
    assert len(slack.messages(CHANNEL)) == 1  # one root message
    # Every message once, in the order it happened: nothing repeated, lost or swapped
    # by the two workers and two serves between them.
    assert _story(slack, root) == [
        "progress",
        "Plan",
        "Review 1 of 4: TASK-101",
        "TASK-101-review-1.diff",
        "Changes requested",
        "Review 2 of 4: TASK-101",
        "TASK-101-review-2.diff",
        "Pull request opened",
    ]
    thread = thread_of(slack, root)
    assert feedback in block_text(thread[4]) and "<@U_ANA>" in block_text(thread[4])
    assert pull["html_url"] in block_text(thread[7])
    # The review messages were closed by who decided, the card and root say it ended.
    assert "Changes requested by <@U_ANA>" in text_at(slack, first.ts)
    assert "Approved by <@U_BEN>" in text_at(slack, review.ts)
    assert "Approved by" not in text_at(slack, first.ts)
    assert "*Finished* (done)" in text_at(slack, thread[0].ts)
    assert pull["html_url"] in text_at(slack, root.ts)
    assert "Approved in TaskMaster by" in str(pull["body"])
    # And it stays so: no process redraws the card from a view of its own. A serve used
    # to, at its next heartbeat, with the empty checklist it started the run with. What
    # is checked is an absence, so the test watches for a heartbeat and a bit.
    await asyncio.sleep(HEARTBEAT_S + 3)
    assert "*Finished* (done)" in text_at(slack, thread[0].ts), text_at(slack, thread[0].ts)


async def test_cancel_from_a_serve_stops_the_run_a_worker_drives(
    cluster: Cluster, slack: LocalSlack, postgres_url: str, demo_env: dict[str, str]
) -> None:
    await cluster.via(0).slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)

    row = await _owner_of(postgres_url, "TASK-101")
    await cluster.via(1).slash_command("cancel TASK-101")
    await eventually(lambda: "Cancelled" in text_at(slack, root.ts), within=20)
    workspace = Path(demo_env["TASKMASTER_DATA_DIR"]) / "workspaces" / str(row["run_id"])

    async def stopped() -> bool:
        after = await _run_row(postgres_url, "TASK-101")
        return after["status"] == "cancelled" and after["owner"] is None

    async def let_go() -> bool:  # the worker heard the cancel: it stopped and tidied up
        return await stopped() and not workspace.exists()

    await until(let_go, 10, "the worker to stop the run")
    assert reviews_in(slack, root) == []


async def test_a_sigkilled_workers_run_continues_on_another_within_the_bound(
    cluster: Cluster, slack: LocalSlack, postgres_url: str
) -> None:
    await cluster.via(0).slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
    # In the middle of `implement`: the plan is posted, and the model (half a second a
    # turn) has more turns to go before it finishes.
    await eventually(lambda: "Plan" in _story(slack, root), within=60, what="the plan")
    row = await _owner_of(postgres_url, "TASK-101")
    assert row["status"] == "running" and reviews_in(slack, root) == []
    pid = int(str(row["owner"]).split(":")[1])
    [victim] = [w for w in cluster.workers if w.pid == pid]
    os.killpg(victim.pid, signal.SIGKILL)
    loop = asyncio.get_running_loop()
    killed = loop.time()

    async def moving_again() -> bool:  # another worker drives it
        owner = (await _run_row(postgres_url, "TASK-101"))["owner"]
        return bool(owner) and int(str(owner).split(":")[1]) != pid

    # The stated bound is 5/3 of TASKMASTER_WORKER_TIMEOUT; generous here for load.
    await until(moving_again, WORKER_TIMEOUT * 5 / 3 + 20, "another worker to take the run")
    moved = loop.time() - killed
    review = await eventually(lambda: open_review(slack, root), within=60, what="the review")
    assert moved < WORKER_TIMEOUT * 5 / 3 + 20, moved
    after = await _run_row(postgres_url, "TASK-101")
    assert after["status"] == "awaiting_review"
    assert review is not None and len(slack.messages(CHANNEL)) == 1
    await _first_review_shown(slack, root)


async def test_twenty_approve_clicks_over_both_serves_deliver_once(
    cluster: Cluster, slack: LocalSlack, github: FakeGitHub
) -> None:
    balancer = await cluster.balanced()
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
    review = await eventually(lambda: open_review(slack, root), within=60, what="the review")
    clicks = await asyncio.gather(
        *(slack.click(CHANNEL, review.ts, ids.APPROVE, user=PEOPLE[n % 3]) for n in range(20))
    )
    assert all(click.status == 200 for click in clicks)
    assert balancer.sent >= 21  # the command and the clicks, spread over both
    await eventually(lambda: "*Done*" in text_at(slack, root.ts), within=60, what="Done")
    assert len(github.pulls) == 1
    approved = [m for m in thread_of(slack, root) if "Approved by" in m.text]
    assert len(approved) <= 1
    refused = [e for e in slack.ephemerals if "Already approved" in e.text]
    assert len(refused) == 19


async def test_one_ticket_started_from_both_serves_at_once_is_one_run(
    cluster: Cluster, slack: LocalSlack, postgres_url: str
) -> None:
    await cluster.balanced()
    await asyncio.gather(
        slack.slash_command("TASK-101", user="U_ANA"), slack.slash_command("TASK-101", user="U_BEN")
    )
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
    busy = await eventually(
        lambda: [e for e in slack.ephemerals if "already has an active run" in e.text],
        what="the second person to be told",
    )
    assert len(busy) == 1
    async with await psycopg.AsyncConnection.connect(postgres_url) as db:
        cursor = await db.execute("SELECT count(*) FROM runs WHERE ticket = 'TASK-101'")
        assert await cursor.fetchone() == (1,)
    assert len(slack.messages(CHANNEL)) == 1 and root is not None


async def test_a_worker_stopped_with_sigterm_hands_its_run_to_another(
    cluster: Cluster, slack: LocalSlack, postgres_url: str
) -> None:
    await cluster.via(0).slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
    row = await _owner_of(postgres_url, "TASK-101")
    pid = int(str(row["owner"]).split(":")[1])
    [stopping] = [w for w in cluster.workers if w.pid == pid]
    stopping.send_signal(signal.SIGTERM)
    await asyncio.wait_for(stopping.wait(), 15)  # 3 s for its job, then it hands it back
    assert stopping.returncode == 0

    async def moving_again() -> bool:
        owner = (await _run_row(postgres_url, "TASK-101"))["owner"]
        return bool(owner) and int(str(owner).split(":")[1]) != pid

    await until(moving_again, 20, "the other worker to take the run")
    await eventually(lambda: open_review(slack, root), within=60, what="the review")
    await _first_review_shown(slack, root)


@pytest.mark.parametrize("after", [False, True], ids=["before-github-made-it", "answer-lost"])
async def test_a_worker_killed_between_push_and_pull_request_leaves_one(
    cluster: Cluster, slack: LocalSlack, postgres_url: str, github: FakeGitHub, after: bool
) -> None:
    """SIGKILL the driving worker while GitHub holds its `POST .../pulls`: the branch is
    pushed and the pull request is being asked for. Either GitHub never made it (the
    request dies with the worker) or it made it and the answer was lost; the other
    worker continues the run and there is exactly one pull request."""
    held = github.hold("POST", github.pulls_path, after=after)
    await cluster.via(0).slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
    review = await eventually(lambda: open_review(slack, root), within=60, what="the review")
    await cluster.via(1).click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
    await asyncio.wait_for(held.arrived.wait(), 60)  # inside open_pull_request

    [asked] = github.to("POST", github.pulls_path)
    branch = asked.body["head"]
    assert branch in await remote_branches(cluster.remote)  # `push` is done
    owner = str((await _run_row(postgres_url, "TASK-101"))["owner"])
    [victim] = [w for w in cluster.workers if w.pid == int(owner.split(":")[1])]
    os.killpg(victim.pid, signal.SIGKILL)
    await asyncio.wait_for(victim.wait(), 10)
    (held.release if after else held.drop)()  # answered to nobody

    await eventually(lambda: "*Done*" in text_at(slack, root.ts), within=60, what="Done")
    [pull] = github.pulls
    assert pull["head"]["ref"] == branch and pull["state"] == "open"
    # Made once: the other worker found it (answer lost) or asked again (never made).
    assert len(github.to("POST", github.pulls_path)) == (1 if after else 2)
    assert await remote_branches(cluster.remote) == [branch]
    assert _story(slack, root) == [
        "progress",
        "Plan",
        "Review 1 of 4: TASK-101",
        "TASK-101-review-1.diff",
        "Pull request opened",
    ]
    assert pull["html_url"] in block_text(thread_of(slack, root)[-1])
    assert pull["html_url"] in text_at(slack, root.ts)


async def test_a_run_whose_job_never_reached_the_queue_is_driven_by_a_worker(
    cluster: Cluster, slack: LocalSlack, postgres_url: str
) -> None:
    """The `serve` that showed a run stopped before its job reached the queue (here the
    job is taken out of procrastinate's table, with no worker running to take it
    first): a worker finds the run with no job and drives it, from its ticket."""
    for worker in cluster.workers:
        worker.send_signal(signal.SIGTERM)
    await asyncio.gather(*(asyncio.wait_for(w.wait(), 20) for w in cluster.workers))
    await cluster.via(0).slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
    run_id = (await _run_row(postgres_url, "TASK-101"))["run_id"]

    async def jobs() -> int:
        async with await psycopg.AsyncConnection.connect(postgres_url) as db:
            cursor = await db.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE lock = %s", (run_id,)
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    await until(lambda: _positive(jobs()), 30, "serve to enqueue the run")
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as db:
        await db.execute("DELETE FROM procrastinate_jobs WHERE lock = %s", (run_id,))
    assert await jobs() == 0

    await cluster.start_worker()
    # Found once it has been quiet for 2 worker timeouts, at the next look (every third).
    await eventually(lambda: open_review(slack, root), within=60, what="the review")
    await _first_review_shown(slack, root)
    assert (await _run_row(postgres_url, "TASK-101"))["status"] == "awaiting_review"


async def _positive(count: Awaitable[int]) -> bool:
    return await count > 0


async def _lose_the_review(
    cluster: Cluster, slack: LocalSlack, root: Message, postgres_url: str, *, alone: bool = False
) -> None:
    """What a worker killed after claiming the review, before recording its post, leaves
    behind: a run awaiting a review that is in no message, claimed by a dead process.
    `alone`: the other worker is stopped first (SIGTERM), so no worker is left."""
    shown = await eventually(lambda: open_review(slack, root), within=60, what="the review")
    await eventually(lambda: _story(slack, root)[-1].endswith(".diff"), what="the diff")
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as db:
        cursor = await db.execute("SELECT claimed_by FROM slack_threads")
        [(poster,)] = await cursor.fetchall()
        pid = int(poster.split(":")[1])
        for other in [w for w in cluster.workers if w.pid != pid and alone]:
            other.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(other.wait(), 20) == 0
        await db.execute("UPDATE slack_threads SET review_ts = NULL")
    [worker] = [w for w in cluster.workers if w.pid == pid]
    os.killpg(worker.pid, signal.SIGKILL)
    await asyncio.wait_for(worker.wait(), 10)
    await delete_message(slack, shown)


async def test_a_review_its_killed_worker_never_posted_is_posted_by_another(
    cluster: Cluster, slack: LocalSlack, postgres_url: str, github: FakeGitHub
) -> None:
    await cluster.via(0).slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
    await _lose_the_review(cluster, slack, root, postgres_url)

    # The other worker looks every third of the timeout; no serve restarts.
    review = await eventually(lambda: open_review(slack, root), within=30, what="the review")
    await cluster.via(1).click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
    await eventually(lambda: "*Done*" in text_at(slack, root.ts), within=60, what="Done")
    assert _story(slack, root) == [*REVIEW_SHOWN_AGAIN, "Pull request opened"]
    assert len(github.pulls) == 1


async def test_two_serves_starting_together_post_a_missing_review_once(
    cluster: Cluster, slack: LocalSlack, postgres_url: str, github: FakeGitHub
) -> None:
    await cluster.via(0).slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"), within=30)
    await cluster.stop_serves()
    await _lose_the_review(cluster, slack, root, postgres_url, alone=True)
    # Slack holds the first post off for a second (a rate limit during a deploy): the
    # other serve starts meanwhile, while the review still shows nowhere.
    slack.fail("chat.postMessage", retry_after=1)
    await asyncio.gather(cluster.start_serve(), cluster.start_serve())  # a deploy
    await eventually(lambda: open_review(slack, root), within=30, what="the review")
    await eventually(lambda: _story(slack, root)[-1].endswith(".diff"), what="its diff")
    await cluster.stop_serves()  # each writes what it still has to, then exits
    assert _story(slack, root) == REVIEW_SHOWN_AGAIN
    [ask] = [c for c in slack.calls if c.status == 429]  # the other serve never asked
    assert ask.method == "chat.postMessage"
