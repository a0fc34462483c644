"""`/taskmaster`: start a run for a ticket, and help, status, cancel.

The command is acked before anything slow happens (Slack gives three seconds); help
and usage are answered in the ack itself. Whatever is wrong before a run starts (a
malformed key, an unknown ticket, no access, a busy ticket) is told only to the person
who typed it. A ticket whose earlier run's pull request is still open is said so, with
its link, and a new run starts only if the person asks again. A run's root message
goes through the thread reporter's outbox (retried like any message); the run starts
once it is posted, so its thread exists before the run's first event.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.errors import ErrorKind, TaskmasterError
from agent.models import PullRequest
from agent.runs.records import RunRecord, TicketBusy
from bot.slack import ids, review
from bot.slack.deps import SlackDeps
from bot.slack.kit import actions, button, section
from bot.slack.mrkdwn import clip, escape, link, mention
from bot.slack.runview import RunView
from bot.slack.told import friendly

HELP = """\
*TaskMaster* fixes a ticket in a private clone of the repository and asks for your \
review before anything is pushed.
• `/taskmaster {example}`: start a run; its progress goes to a thread
• `/taskmaster status [KEY]`: active runs, with links to their threads
• `/taskmaster cancel KEY`: stop the active run of a ticket
• `/taskmaster help`: this message"""

USAGE = "Usage: `/taskmaster KEY`, `/taskmaster status [KEY]`, `/taskmaster cancel KEY`."


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        words = str(command.get("text") or "").split()
        user, channel = str(command["user_id"]), str(command["channel_id"])
        match [word.lower() for word in words[:1]] + words[1:]:
            case [] | ["help"]:
                await ack(text=HELP.format(example=deps.manager.key_example))
            case ["status"]:
                await ack()
                await _status(deps, client, respond, None)
            case ["status", key]:
                await ack()
                await _status(deps, client, respond, key)
            case ["cancel", key]:
                await ack()
                await _cancel(deps, respond, key, user)
            case [word] if word != "cancel":
                await ack()
                await start_run(deps, client, respond, words[0], user, channel)
            case _:
                await ack(text=USAGE)

    app.command("/taskmaster")(deps.after_ack(on_command))


async def start_run(
    deps: SlackDeps,
    client: AsyncWebClient,
    respond: AsyncRespond,
    key: str,
    user: str,
    channel: str,
    *,
    anyway: bool = False,
) -> None:
    """Start a run of `key` for `user` in `channel`, or tell them privately why not."""
    manager = deps.manager
    try:
        ticket = await manager.fetch_ticket(key)
        if not anyway and (opened := await manager.open_pull_request(key)) is not None:
            await _ask_before_another(respond, ticket.key, opened)
            return
        run = await manager.create(ticket.key, user)
        # Before its first message: a run made for Slack that never got one is not started.
        await deps.threads.save(run.run_id, channel)
    except TaskmasterError as error:
        usage = f"\n{USAGE}" if error.kind is ErrorKind.INVALID_INPUT else ""
        await _tell(respond, f"{escape(error.message)}{usage}")
        return
    except TicketBusy as busy:
        await _tell(respond, await _busy_text(deps, client, busy.run))
        return

    async def posted(view: RunView) -> None:
        url = await permalink(client, channel, view.root_ts)
        manager.launch(run, thread_url=url, ticket=ticket)

    async def refused(view: RunView, error: BaseException) -> None:
        # Without its root message the run has no thread to report to: it does not
        # start, and does not hold the ticket. Nobody cancelled it.
        await manager.abandon(run.run_id, "Slack refused the run's first message.")
        await _tell(respond, friendly(error))

    view = RunView(run.run_id, run.ticket, user, channel, root_ts="", title=ticket.title)
    deps.reporter.start(view, on_posted=posted, on_refused=refused)


async def _ask_before_another(respond: AsyncRespond, key: str, opened: PullRequest) -> None:
    pr = link(opened.url, f"pull request #{opened.number}")
    text = (
        f"{escape(key)} already has an open {pr} from TaskMaster. "
        "Start another run anyway? It would open a second pull request."
    )
    ask = actions(
        button("Start another run", ids.START_ANYWAY, key, style="primary"),
        button("Never mind", ids.NEVER_MIND, key),
        block_id=ids.ASK_ACTIONS_BLOCK,
    )
    plain = f"{escape(key)} already has an open pull request from TaskMaster: {opened.url}"
    await respond(text=plain, blocks=[section(text), ask], response_type="ephemeral")


async def permalink(client: AsyncWebClient, channel: str, ts: str) -> str | None:
    """The message's link, or None: a missing link must not stop what asked for it."""
    try:
        response = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    return str(response["permalink"])


async def _thread_link(deps: SlackDeps, client: AsyncWebClient, run: RunRecord, label: str) -> str:
    thread = await deps.threads.get(run.run_id)
    if thread is not None and thread.root_ts:
        url = await permalink(client, thread.channel, thread.root_ts)
        if url:
            return link(url, label)
    return escape(label)


async def _busy_text(deps: SlackDeps, client: AsyncWebClient, run: RunRecord) -> str:
    where = await _thread_link(deps, client, run, "its thread")
    return (
        f"{escape(run.ticket)} already has an active run ({run.status.replace('_', ' ')}, "
        f"requested by {mention(run.requester)}): see {where}."
    )


async def _status(
    deps: SlackDeps, client: AsyncWebClient, respond: AsyncRespond, key: str | None
) -> None:
    store = deps.manager.store
    if key is None:
        runs = await store.recent(active_only=True, limit=20)
        if not runs:
            await _tell(respond, "No active runs. Start one with `/taskmaster KEY`.")
            return
        heading = f"*Active runs* ({len(runs)})"
    else:
        try:
            ticket = deps.manager.normalize_key(key)
        except TaskmasterError as error:
            await _tell(respond, escape(error.message))
            return
        latest = await store.active_for(ticket) or await store.latest_for(ticket)
        if latest is None:
            await _tell(respond, f"{escape(ticket)} has had no run yet.")
            return
        runs, heading = [latest], f"*{escape(ticket)}*"
    lines = [heading]
    for run in runs:
        where = await _thread_link(deps, client, run, "thread")
        lines.append(f"• {_outcome(run)}, requested by {mention(run.requester)} · {where}")
    text = "\n".join(lines)
    await respond(text=text, blocks=[section(text)], response_type="ephemeral")


def _outcome(run: RunRecord) -> str:
    """A run's status in words, with what it ended in: a pull request, who, or why."""
    status = f"*{escape(run.ticket)}* {run.status.replace('_', ' ')}"
    if run.status == "done" and run.pull_request is not None:
        pr = run.pull_request
        return f"{status}: {link(pr.url, f'pull request #{pr.number}')}"
    if run.status == "failed" and run.error:
        return f"{status}: {escape(clip(run.error, 300))} (Retry is on its message)"
    if run.status == "cancelled" and run.cancelled_by:
        return f"{status} by {mention(run.cancelled_by)}"
    if run.status == "rejected" and run.decision is not None:
        return f"{status} by {mention(run.decision.by)}"
    return status


async def _cancel(deps: SlackDeps, respond: AsyncRespond, key: str, user: str) -> None:
    try:
        ticket = deps.manager.normalize_key(key)
    except TaskmasterError as error:
        await _tell(respond, escape(error.message))
        return
    run = await deps.manager.store.active_for(ticket)
    if run is None:
        await _tell(respond, f"No active run for {escape(ticket)}.")
        return
    refused = await review.cancel(deps, run, user)
    if refused is not None:
        await _tell(respond, refused)
        return
    await _tell(respond, f"Cancelled the run for {escape(ticket)}.")


async def _tell(respond: AsyncRespond, text: str) -> None:
    await respond(text=text, response_type="ephemeral")
