"""What a person is told when something fails: the error's own words when it has some."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from agent.errors import TaskmasterError
from agent.runs.manager import RunRefused
from bot.slack.mrkdwn import escape

GENERIC = "Something went wrong inside TaskMaster; the details are in its log."
NOT_IN_CHANNEL = "I can't post here. Invite me with `/invite @TaskMaster`, then try again."


def friendly(error: BaseException) -> str:
    """What to tell a person about `error`: its own words when it has some for people."""
    if isinstance(error, TaskmasterError | RunRefused):
        return escape(error.message)
    if isinstance(error, SlackApiError) and error.response.get("error") in (
        "not_in_channel",
        "channel_not_found",
        "is_archived",
    ):
        return NOT_IN_CHANNEL
    return GENERIC
