"""The Bolt app: its Web API client, its listeners, and the one error handler.

The client retries rate limits (429, honouring Retry-After), server errors and broken
connections itself; slack_sdk retries none of the first two by default. Anything a
listener does not handle reaches `on_error`, which logs it and tells the person in
words they can use, never with a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from agent.runs.manager import RunManager
from agent.settings import Settings
from bot.slack import actions, code_commands, commands, conversation, sessions, views
from bot.slack.after_ack import AfterAck
from bot.slack.deps import SlackDeps
from bot.slack.ids import FeedbackContext
from bot.slack.reporter import ThreadReporter
from bot.slack.threads import ThreadStore
from bot.slack.told import friendly

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 4
SERVER_ERROR_RETRIES = 2
CONNECTION_RETRIES = 2


class _SameToken(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns that the client
    we give it (built from the same setting), or our `authorize`, wins. That is the
    intent: say nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "`token` will be unused" not in message and "will be ignored" not in message


BOLT_LOG = logging.getLogger("bot.slack.bolt")
BOLT_LOG.addFilter(_SameToken())


def build_client(settings: Settings) -> AsyncWebClient:
    """The Web API client; SLACK_API_URL points it at a stand-in in tests and the demo."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
        ],
    )


def build_app(
    settings: Settings,
    manager: RunManager,
    reporter: ThreadReporter,
    threads: ThreadStore,
    auth_test: AsyncSlackResponse,
) -> AsyncApp:
    """The app with every listener registered; `reporter` gets the app's client.

    Request signatures are always verified (Bolt skips the check only for Socket
    Mode, whose requests arrive over the app's own authenticated connection).
    `auth_test` is `auth.test`'s answer for the bot token, asked before the app takes
    its first request: Bolt's own single-workspace authorization asks for it on the
    first request and keeps it only once it returns, so each request of a first burst
    asked Slack again while the person waited for the ack.
    """
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    assert settings.slack_signing_secret is not None  # checked by require()
    client = build_client(settings)
    authorized = AuthorizeResult.from_auth_test_response(
        auth_test_response=auth_test, bot_token=client.token
    )

    async def authorize() -> AuthorizeResult:
        return authorized

    app = AsyncApp(
        name="taskmaster",
        client=client,
        authorize=authorize,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        process_before_response=True,  # answered at each listener's ack: see after_ack
        request_verification_enabled=True,
        logger=BOLT_LOG,
    )
    reporter.attach(client, manager.store, threads)
    deps = SlackDeps(settings, manager, reporter, threads, AfterAck(on_error))
    commands.register(app, deps)
    actions.register(app, deps)
    views.register(app, deps)
    conversation.register(app, deps)
    sessions.register(app, deps)
    if reporter.code_channels:
        code_commands.register(app, deps)
    app.error(on_error)
    return app


async def on_error(
    error: Exception, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    """The app's one error handler: log the details, tell the person something useful."""
    log.error("Slack request failed (%s)", body.get("type") or body.get("command"), exc_info=error)
    text = friendly(error)
    try:
        if respond.response_url is not None:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        elif (where := _modal_origin(body)) is not None:
            await client.chat_postEphemeral(channel=where.channel, user=_user(body), text=text)
    except (SlackClientError, OSError) as failure:  # Slack itself is failing: the log has it
        log.warning("could not tell the user about the error: %s", failure)


def _user(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user["id"] if isinstance(user, dict) else body.get("user_id", ""))


def _modal_origin(body: dict[str, Any]) -> FeedbackContext | None:
    """The channel a feedback modal came from (a view submission has no response URL)."""
    view = body.get("view")
    if not isinstance(view, dict) or not view.get("private_metadata"):
        return None
    try:
        return FeedbackContext.decode(str(view["private_metadata"]))
    except (ValueError, KeyError):
        return None
