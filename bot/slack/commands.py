"""`/taskmaster`: start a run for a ticket, and help, status, cancel.

The command is acked before anything slow happens (Slack gives three seconds); help
and usage are answered in the ack itself. A run gets its root message in the channel
first, so its thread exists (and is in the registry) before the run's first event.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.errors import TaskmasterError
from agent.runs.store import RunRecord, TicketBusy
from bot.slack import cards, review
from bot.slack.deps import SlackDeps
from bot.slack.kit import section
from bot.slack.mrkdwn import escape, link, mention
from bot.slack.runview import RunView

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
                await _start(deps, client, respond, words[0], user, channel)
            case _:
                await ack(text=USAGE)

    app.command("/taskmaster")(on_command)


async def _start(
    deps: SlackDeps,
    client: AsyncWebClient,
    respond: AsyncRespond,
    key: str,
    user: str,
    channel: str,
) -> None:
    manager = deps.manager
    try:
        run = await manager.create(key, user, channel)
    except TaskmasterError as error:
        await _tell(respond, f"{escape(error.message)}\n{USAGE}")
        return
    except TicketBusy as busy:
        await _tell(respond, await _busy_text(client, busy.run))
        return
    view = RunView(run.run_id, run.ticket, user, channel, root_ts="")
    text, blocks = cards.root_message(view)
    try:
        posted = await client.chat_postMessage(channel=channel, text=text, blocks=blocks)
    except Exception:
        # Without its root message the run has no thread to report to: do not leave it
        # holding the ticket (or starting at the next restart), then let the error out.
        await manager.cancel(run.run_id, by=user)
        raise
    view.root_ts = str(posted["ts"])
    await manager.store.set_messages(run.run_id, channel=channel, root_ts=view.root_ts)
    deps.reporter.track(view)
    manager.launch(run, thread_url=await permalink(client, channel, view.root_ts))


async def permalink(client: AsyncWebClient, channel: str, ts: str) -> str | None:
    """The message's link, or None: a missing link must not stop what asked for it."""
    try:
        response = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    return str(response["permalink"])


async def _thread_link(client: AsyncWebClient, run: RunRecord, label: str) -> str:
    if run.channel and run.root_ts:
        url = await permalink(client, run.channel, run.root_ts)
        if url:
            return link(url, label)
    return escape(label)


async def _busy_text(client: AsyncWebClient, run: RunRecord) -> str:
    where = await _thread_link(client, run, "its thread")
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
        empty = "No active runs. Start one with `/taskmaster KEY`."
    else:
        try:
            ticket = deps.manager.normalize_key(key)
        except TaskmasterError as error:
            await _tell(respond, escape(error.message))
            return
        active = await store.active_for(ticket)
        runs = [active] if active else []
        empty = f"No active run for {escape(ticket)}."
    if not runs:
        await _tell(respond, empty)
        return
    lines = [f"*Active runs* ({len(runs)})"]
    for run in runs:
        where = await _thread_link(client, run, "thread")
        lines.append(
            f"• *{escape(run.ticket)}* {run.status.replace('_', ' ')}, requested by "
            f"{mention(run.requester)} · {where}"
        )
    text = "\n".join(lines)
    await respond(text=text, blocks=[section(text)], response_type="ephemeral")


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
