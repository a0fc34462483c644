"""LocalSlack: one fake Slack workspace (Web API, deliveries, response_urls) on a local port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiohttp import web

from localslack.agents import REFUSALS, AgentSurface, CodeChannel, Refusal, Session, Stream
from localslack.changes import Changes
from localslack.delivery import VERIFICATION_TOKEN, Delivery, DeliveryResult
from localslack.events import Events
from localslack.faults import Faults
from localslack.socket import SocketMode
from localslack.state import (
    DEFAULT_CHANNELS,
    DEFAULT_USERS,
    JSON,
    Channel,
    Ephemeral,
    Message,
    RecordedCall,
    UploadedFile,
    User,
    View,
    Workspace,
)
from localslack.ui import Ui
from localslack.webapi import WebApi

T = TypeVar("T")


class LocalSlack:
    """Stands in for Slack's servers so the bot runs end to end with no network and no account.

    Point the bot's `AsyncWebClient(base_url=ls.api_url)` here, set `app_url` to the bot's
    `/slack/events`, then drive it with `slash_command`, `click` and `submit_view`, or
    open `base_url` in a browser: the page there (`localslack.ui`) does the same.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-local",
        signing_secret: str = "local-secret",
        app_token: str | None = None,
        app_url: str | None = None,
        events: Sequence[str] = (),
        team_id: str = "T0LOCAL",
        users: Sequence[User] = DEFAULT_USERS,
        channels: Sequence[Channel] = DEFAULT_CHANNELS,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.workspace = Workspace(team_id=team_id, users=users, channels=channels)
        self.faults = Faults()
        self._base_url: str | None = None
        self.socket = SocketMode(app_token=app_token, base_url=self._url)
        self.agents = AgentSurface(self.workspace)
        self.webapi = WebApi(
            self.workspace,
            self.faults,
            token=bot_token,
            base_url=self._url,
            socket=self.socket,
            agents=self.agents,
        )
        self.delivery = Delivery(
            self.workspace, signing_secret=signing_secret, base_url=self._url, socket=self.socket
        )
        self.delivery.app_url = app_url
        self.events = Events(
            self.workspace, self._deliver_event, verification_token=VERIFICATION_TOKEN
        )
        self.events.subscribe(events)
        self.changes = Changes()
        self.ui = Ui(self)
        self.app = web.Application(middlewares=[self._notify_after])
        self.app.add_routes(
            [
                *self.webapi.routes(),
                *self.delivery.routes(),
                *self.socket.routes(),
                *self.ui.routes(),
            ]
        )
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on host:port; port 0 picks a free port, read it back from `base_url`."""
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound = runner.addresses[0]
        self._base_url = f"http://{host}:{bound[1]}"

    async def stop(self) -> None:
        await self.ui.close()
        await self.events.close()
        await self.socket.close()
        await self.delivery.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("LocalSlack is not started")
        return self._base_url

    @property
    def base_url(self) -> str:
        return self._url()

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL / AsyncWebClient(base_url=...) takes, trailing slash included."""
        return self._url() + "/api/"

    @property
    def app_url(self) -> str | None:
        return self.delivery.app_url

    @app_url.setter
    def app_url(self, url: str | None) -> None:
        self.delivery.app_url = url

    @web.middleware
    async def _notify_after(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            await self._notify()

    async def _notify(self) -> None:
        await self.changes.notify()

    async def _deliver_event(self, callback: JSON) -> int:
        status = await self.delivery.event(callback)
        await self._notify()
        return status

    async def wait_for(self, predicate: Callable[[], T], seconds: float = 5.0) -> T:
        """Wait until `predicate()` is truthy; returns its value. For what the app does after
        its ack (Bolt's default): re-checked after every request this server answers, so the
        predicate should read LocalSlack's state, not the app's.
        """
        return await self.changes.wait_for(predicate, seconds)

    # -- what happened -------------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        return self.workspace.calls

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [call for call in self.workspace.calls if call.method == method]

    def messages(self, channel: str) -> list[Message]:
        return self.workspace.messages(channel)

    def thread(self, channel: str, ts: str) -> list[Message]:
        return self.workspace.thread(channel, ts)

    def message(self, channel: str, ts: str) -> Message:
        return self.workspace.find(channel, ts)

    @property
    def ephemerals(self) -> list[Ephemeral]:
        return self.workspace.ephemerals

    @property
    def views(self) -> list[View]:
        return self.workspace.views

    def view(self, view_id: str) -> View:
        return self.workspace.view(view_id)

    @property
    def open_views(self) -> dict[str, View]:
        return {v.id: v for v in self.workspace.views if v.is_open}

    @property
    def files(self) -> list[UploadedFile]:
        """Files shared by files.completeUploadExternal (reserved-but-unshared ones excluded)."""
        return [f for f in self.workspace.files if f.title is not None]

    @property
    def responses(self) -> list[JSON]:
        return self.workspace.responses

    @property
    def refusals(self) -> list[str]:
        """Everything the app sent that Slack would have refused, with Slack's reasons.

        Web API calls answered `invalid_arguments`, `invalid_blocks`, `msg_too_long`...,
        response_url messages and view acks Slack would not take. A test of a bot
        asserts this stays empty: then Slack would have accepted every call.
        """
        return self.workspace.refusals

    @property
    def trigger_ttl(self) -> float:
        return self.workspace.trigger_ttl

    @trigger_ttl.setter
    def trigger_ttl(self, seconds: float) -> None:
        """Set to 0 to make every trigger id expire at once (tests of expired_trigger_id)."""
        self.workspace.trigger_ttl = seconds

    # -- failures ------------------------------------------------------------------------------

    def fail(self, method: str, *, status: int = 429, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` answer `status` (429 with Retry-After)."""
        self.faults.fail(method, status=status, retry_after=retry_after, times=times)

    def fail_every(
        self, n: int, *, status: int = 429, retry_after: int = 0, methods: set[str] | None = None
    ) -> None:
        """Every n-th call (of `methods`, or of all) answers `status`; n=0 turns it off."""
        self.faults.fail_every(n, status=status, retry_after=retry_after, methods=methods)

    def refuse_agent_methods(self, error: str = "not_allowed", *, after: int = 0) -> None:
        """The workspace refuses Slack's agent methods (streams, sessions, code channels)
        with `error` (not_allowed, feature_not_enabled, missing_scope), after `after` calls."""
        if error not in REFUSALS:
            raise ValueError(f"not a workspace refusal: {error}")
        self.agents.refusal = Refusal(error, after)

    def seal_streams_after(self, appends: int | None) -> None:
        """Seal each stream after this many appends, as Slack does a few minutes into a
        long turn: the next append answers `message_not_in_streaming_state`."""
        self.agents.seal_after = appends

    def seal_streams(self) -> list[str]:
        """Seal every open stream now (the timestamps): Slack's limit on a long turn."""
        sealed = []
        for (channel, ts), stream in self.agents.streams.items():
            if stream.streaming:
                stream.streaming = False
                self.workspace.find(channel, ts).stream = stream.to_dict()
                sealed.append(ts)
        return sealed

    # -- the agent surface: what happened ------------------------------------------------------

    def stream(self, channel: str, ts: str) -> Stream:
        return self.agents.stream(channel, ts)

    def session(self, channel: str, thread_ts: str | None) -> Session | None:
        return self.agents.session(channel, thread_ts)

    @property
    def code_channels(self) -> list[CodeChannel]:
        return list(self.agents.code_channels.values())

    # -- what Slack sends to the app -----------------------------------------------------------

    async def stop_session(self, channel: str, thread_ts: str, *, user: str = "U_ANA") -> JSON:
        """A person clicks Stop on a processing agent session: `agent_session_stopped`."""
        event = self.agents.stop_clicked(channel, thread_ts, user)
        self.events.send_event("agent_session_stopped", event)
        await self._notify()
        return event

    async def agent_command(
        self, channel: str, command: str, text: str = "", *, user: str = "U_ANA"
    ) -> DeliveryResult:
        """A person types an agent slash command the app registered in a code channel."""
        if not self.agents.command_registered(channel, command):
            raise LookupError(f"{command} is not an agent command of {channel}")
        return await self.slash_command(text, user=user, channel=channel, command=command)

    async def slash_command(
        self,
        text: str,
        *,
        user: str = "U_ANA",
        channel: str = "C_GENERAL",
        command: str = "/taskmaster",
    ) -> DeliveryResult:
        result = await self.delivery.slash_command(
            text, user=user, channel=channel, command=command
        )
        await self._notify()
        return result

    async def click(
        self,
        channel: str,
        message_ts: str,
        action_id: str,
        *,
        user: str = "U_ANA",
        value: str | None = None,
    ) -> DeliveryResult:
        result = await self.delivery.click(channel, message_ts, action_id, user=user, value=value)
        await self._notify()
        return result

    async def submit_view(
        self, view_id: str, values: dict[str, dict[str, str]], *, user: str = "U_ANA"
    ) -> DeliveryResult:
        result = await self.delivery.submit_view(view_id, values, user=user)
        await self._notify()
        return result

    async def post_message(
        self,
        text: str,
        *,
        user: str = "U_ANA",
        channel: str = "C_GENERAL",
        thread_ts: str | None = None,
    ) -> Message:
        """A person writes in the channel (or in a thread); the app hears of it as an event."""
        self.workspace.user(user)
        message = self.workspace.post(
            channel, thread_ts=thread_ts, text=_escape(text), user=user, bot_id=None
        )
        await self._notify()
        return message

    async def react(self, channel: str, ts: str, name: str, *, user: str = "U_ANA") -> Message:
        """A person adds `:name:` to a message; the app hears of it as `reaction_added`."""
        message = self.workspace.add_reaction(user, channel, ts, name)
        await self._notify()
        return message


def _escape(text: str) -> str:
    """Slack's escaping of what people type: &, < and > become entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
