"""The Web API: `POST|GET /api/<method>` with Slack's shapes, errors, auth and call recording."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from localslack.agents import AgentSurface, CodeChannel
from localslack.blocks import check_message, check_view
from localslack.faults import Faults
from localslack.params import JSON, BadRequest, bearer, field_bytes, read_params
from localslack.socket import SocketMode
from localslack.state import (
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    MALFORMED,
    ApiError,
    Message,
    RecordedCall,
    UploadedFile,
    User,
    Workspace,
)

Handler = Callable[[JSON], JSON]

# Methods that take an app-level token (xapp-); every other one takes the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


class WebApi:
    """Answers Web API calls against a Workspace; `base_url` is read per call (port 0)."""

    def __init__(
        self,
        ws: Workspace,
        faults: Faults,
        *,
        token: str,
        base_url: Callable[[], str],
        socket: SocketMode,
        agents: AgentSurface,
    ) -> None:
        self.ws = ws
        self.agents = agents
        self.faults = faults
        self.token = token
        self.base_url = base_url
        self.socket = socket
        self.handlers: dict[str, Handler] = {
            "apps.connections.open": socket.open_connection,
            "reactions.add": self.add_reaction,
            "api.test": lambda p: {"args": p},
            "auth.test": self.auth_test,
            "chat.postMessage": self.post_message,
            "chat.update": self.update,
            "chat.delete": self.delete,
            "chat.postEphemeral": self.post_ephemeral,
            "chat.getPermalink": self.get_permalink,
            "conversations.info": self.conversation_info,
            "conversations.history": self.history,
            "conversations.replies": self.replies,
            "users.info": self.user_info,
            "views.open": self.views_open,
            "views.push": self.views_open,
            "views.update": self.views_update,
            "files.getUploadURLExternal": self.get_upload_url,
            "files.completeUploadExternal": self.complete_upload,
            **agents.handlers(),
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/api/{method}", self.handle),
            web.post("/upload/{file_id}", self.upload),
        ]

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params, token = await read_params(request)
            error = None
        except BadRequest as bad:
            params, token, error = {}, bearer(request), bad.code
        call = RecordedCall(method, params)
        self.ws.calls.append(call)
        fault = self.faults.next_for(method)
        if fault is not None:
            return _answer(call, {"ok": False, "error": fault.error}, fault.status, fault.headers)
        handler = self.handlers.get(method)
        if handler is None:
            return _answer(call, {"ok": False, "error": "unknown_method"})
        if token is None:
            return _answer(call, {"ok": False, "error": "not_authed"})
        refused = self._token_problem(method, token)
        if refused is not None:
            if refused in MALFORMED:
                self.ws.refuse(f"{method}: {refused}")
            return _answer(call, {"ok": False, "error": refused})
        if error is not None:
            self.ws.refuse(f"{method}: {error}")
            return _answer(call, {"ok": False, "error": error})
        workspace_refusal = self.agents.refused(method)
        if workspace_refusal is not None:
            return _answer(call, workspace_refusal)
        try:
            body = {"ok": True, **handler(params)}
        except ApiError as failure:
            body = failure.body()
            if failure.code in MALFORMED:
                self.ws.refuse(f"{method}: {failure}")
        return _answer(call, body)

    def _token_problem(self, method: str, token: str) -> str | None:
        """Slack's answer to the wrong token: another kind of token, or none it knows."""
        app_token = self.socket.app_token
        wanted = app_token if method in APP_TOKEN_METHODS else self.token
        if token == wanted and wanted is not None:
            return None
        if token in (self.token, app_token):
            return "not_allowed_token_type"
        return "invalid_auth"

    # -- auth, people, channels ----------------------------------------------------------------

    def auth_test(self, params: JSON) -> JSON:
        return {
            "url": self.base_url() + "/",
            "team": "LocalSlack",
            "user": BOT_NAME,
            "team_id": self.ws.team_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def user_info(self, params: JSON) -> JSON:
        return {"user": _user_dict(self.ws.user(params.get("user")), self.ws.team_id)}

    def conversation_info(self, params: JSON) -> JSON:
        channel = self.ws.channel(params.get("channel"))
        code = self.agents.code_channels.get(channel.id)
        return {
            "channel": {
                "id": channel.id,
                "name": channel.name,
                "is_channel": not channel.is_im,
                "is_im": channel.is_im,
                "is_private": channel.is_im,
                "is_member": True,
                "is_archived": bool(code and code.archived),
                **({"properties": self._code_properties(code)} if code else {}),
            }
        }

    def _code_properties(self, code: CodeChannel) -> JSON:
        """A code channel's `properties` (Slack: agent_session and code_channel)."""
        session = self.agents.session(code.id, None)
        agent_session: JSON = {
            "status": session.status if session else "active",
            "encoded_agent_bot_user_ids": [BOT_USER_ID],
            "title": code.name,
        }
        if code.origin:
            agent_session["origin_link"] = dict(code.origin)
        return {
            "agent_session": agent_session,
            "code_channel": {
                "context_bar_items": code.context_bar,
                "views": list(code.views.values()),
            },
        }

    def history(self, params: JSON) -> JSON:
        messages = self.ws.messages(str(params.get("channel", "")))
        return {"messages": [m.to_dict() for m in reversed(messages)], "has_more": False}

    def replies(self, params: JSON) -> JSON:
        _require(params, "channel", "ts")
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        try:
            parent = self.ws.find(channel, ts)
        except ApiError as error:
            raise ApiError("thread_not_found") from error
        root = parent.thread_ts if parent.is_reply and parent.thread_ts else parent.ts
        thread = [self.ws.find(channel, root), *self.ws.thread(channel, root)]
        return {"messages": [m.to_dict() for m in thread], "has_more": False}

    # -- messages ------------------------------------------------------------------------------

    def post_message(self, params: JSON) -> JSON:
        _require(params, "channel")
        channel = self.ws.channel(params.get("channel"))
        fields = _message_fields(params)
        if not any(fields.get(k) for k in ("text", "blocks", "attachments")):
            raise ApiError("no_text")
        thread_ts = _timestamp(params, "thread_ts")
        message = self.ws.post(channel.id, thread_ts=thread_ts, **fields)
        return {"channel": channel.id, "ts": message.ts, "message": message.to_dict()}

    def update(self, params: JSON) -> JSON:
        _require(params, "channel", "ts")
        message = self.ws.find(str(params["channel"]), _timestamp(params, "ts"))
        if message.user != BOT_USER_ID:
            raise ApiError("cant_update_message")
        fields = _message_fields(params)
        if "text" in params:
            message.text = fields["text"]
        # Like Slack: omitted blocks/attachments are kept, an empty list removes them.
        for name in ("blocks", "attachments", "metadata"):
            if name in params:
                setattr(message, name, fields[name] or None)
        message.edited = {"user": BOT_USER_ID, "ts": self.ws.next_ts()}
        return {
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_dict(),
        }

    def delete(self, params: JSON) -> JSON:
        message = self.ws.delete(str(params.get("channel", "")), str(params.get("ts", "")))
        return {"channel": message.channel, "ts": message.ts}

    def post_ephemeral(self, params: JSON) -> JSON:
        _require(params, "channel", "user")
        channel = self.ws.channel(params.get("channel"))
        if params.get("user") not in self.ws.users:
            raise ApiError("user_not_in_channel")
        fields = _message_fields(params)
        if not any(fields.get(k) for k in ("text", "blocks", "attachments")):
            raise ApiError("no_text")
        self.ws.add_ephemeral(
            channel.id,
            str(params["user"]),
            text=fields["text"],
            blocks=fields["blocks"],
            thread_ts=_timestamp(params, "thread_ts"),
        )
        return {"message_ts": self.ws.ephemerals[-1].message_ts}

    def add_reaction(self, params: JSON) -> JSON:
        _require(params, "channel", "timestamp", "name")
        self.ws.add_reaction(
            BOT_USER_ID,
            str(params["channel"]),
            _timestamp(params, "timestamp"),
            str(params["name"]),
        )
        return {}

    def get_permalink(self, params: JSON) -> JSON:
        _require(params, "channel", "message_ts")
        message = self.ws.find(str(params.get("channel", "")), params.get("message_ts"))
        return {"channel": message.channel, "permalink": permalink(self.base_url(), message)}

    # -- views ---------------------------------------------------------------------------------

    def views_open(self, params: JSON) -> JSON:
        _require(params, "trigger_id", "view")
        view = check_view(params["view"])
        user = self.ws.check_trigger(params.get("trigger_id"))
        return {"view": self.ws.open_view(view, user).view}

    def views_update(self, params: JSON) -> JSON:
        _require(params, "view")
        view = check_view(params["view"])
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and not external_id:
            raise ApiError("invalid_arguments", ["missing required field: view_id"])
        matches = [
            v
            for v in self.ws.views
            if v.id == view_id or (external_id and v.view.get("external_id") == external_id)
        ]
        if not matches:
            raise ApiError("not_found")
        target = matches[-1]
        if params.get("hash") and params["hash"] != target.view.get("hash"):
            raise ApiError("hash_conflict")
        self.ws.replace_view(target, view)
        return {"view": target.view}

    # -- files (the files_upload_v2 sequence) --------------------------------------------------

    def get_upload_url(self, params: JSON) -> JSON:
        _require(params, "filename", "length")
        filename, length = params["filename"], params["length"]
        if not str(length).isdigit() or int(length) < 1:
            raise ApiError("invalid_arguments", ["must be more than 0 [json-pointer:/length]"])
        alt = params.get("alt_txt")
        if alt is not None and len(str(alt)) > 1000:
            raise ApiError(
                "invalid_arguments", ["must be less than 1001 characters [json-pointer:/alt_txt]"]
            )
        file = UploadedFile(
            id=self.ws.next_id("F"),
            filename=str(filename),
            length=int(length),
            snippet_type=params.get("snippet_type") or None,
            alt_txt=params.get("alt_txt") or None,
        )
        self.ws.files.append(file)
        return {"upload_url": f"{self.base_url()}/upload/{file.id}", "file_id": file.id}

    async def upload(self, request: web.Request) -> web.Response:
        """Step 2: the raw bytes (or a multipart `file` field) POSTed to the upload URL."""
        file = self.ws.file(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="file_not_found")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = form.get("file") or form.get("filename") or b""
            data = field_bytes(part)
            file.content = data.encode() if isinstance(data, str) else data
        else:
            file.content = await request.read()
        file.uploaded = True
        return web.Response(text=f"OK - {len(file.content)}", content_type="text/plain")

    def complete_upload(self, params: JSON) -> JSON:
        _require(params, "files")
        entries = params.get("files")
        if not isinstance(entries, list) or not entries or len(entries) > 100:
            raise ApiError(
                "invalid_arguments", ["must be an array of 1 to 100 files [json-pointer:/files]"]
            )
        if params.get("thread_ts") and not params.get("channel_id"):
            raise ApiError(
                "invalid_arguments", ["thread_ts requires channel_id [json-pointer:/thread_ts]"]
            )
        files = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not entry.get("id"):
                raise ApiError(
                    "invalid_arguments",
                    [f"missing required field: id [json-pointer:/files/{index}]"],
                )
            file = self.ws.file(str(entry.get("id")))
            if file is None or not file.uploaded:
                raise ApiError("file_not_found")
            file.title = entry.get("title") or file.filename
            files.append(file)
        channel_ref = params.get("channel_id") or str(params.get("channels") or "").split(",")[0]
        if channel_ref:
            channel = self.ws.channel(channel_ref)
            thread_ts = params.get("thread_ts") or None
            comment = params.get("initial_comment") or None
            for file in files:
                file.channel, file.thread_ts, file.initial_comment = channel.id, thread_ts, comment
            self.ws.post(
                channel.id,
                thread_ts=thread_ts,
                text=comment or "",
                files=[f.to_dict() for f in files],
            )
        return {"files": [f.to_dict() for f in files]}


def permalink(base_url: str, message: Message) -> str:
    """Slack's shape: /archives/<channel>/p<ts without dot>, with thread_ts for replies."""
    link = f"{base_url}/archives/{message.channel}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
    return link


def _message_fields(params: JSON) -> JSON:
    text = params.get("text")
    check_message(text, params.get("blocks"))
    if params.get("attachments") is not None and not isinstance(params["attachments"], list):
        raise ApiError("invalid_attachments")
    for name in ("mrkdwn", "unfurl_links", "unfurl_media", "reply_broadcast"):
        if name in params and str(params[name]).lower() not in {"true", "false", "1", "0"}:
            raise ApiError("invalid_arguments", [f"expected boolean [json-pointer:/{name}]"])
    return {
        "text": str(text or ""),
        "blocks": params.get("blocks") or None,
        "attachments": params.get("attachments") or None,
        "metadata": params.get("metadata") or None,
    }


def _require(params: JSON, *names: str) -> None:
    """Slack's answer to a missing required argument: invalid_arguments, naming it."""
    missing = [name for name in names if params.get(name) in (None, "")]
    if missing:
        raise ApiError("invalid_arguments", [f"missing required field: {name}" for name in missing])


def _timestamp(params: JSON, name: str) -> str | None:
    """A message timestamp argument (`1712345678.000100`), or None when not given."""
    value = params.get(name)
    if value in (None, ""):
        return None
    text = str(value)
    seconds, dot, micros = text.partition(".")
    if not (seconds.isdigit() and dot and micros.isdigit()):
        raise ApiError("invalid_arguments", [f"must be a message timestamp [json-pointer:/{name}]"])
    return text


def _user_dict(user: User, team_id: str) -> JSON:
    return {
        "id": user.id,
        "team_id": team_id,
        "name": user.name,
        "real_name": user.real_name or user.name,
        "is_bot": user.is_bot,
        "deleted": False,
        "profile": {
            "display_name": user.name,
            "real_name": user.real_name or user.name,
        },
    }


def _answer(
    call: RecordedCall, body: JSON, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    call.status, call.ok, call.response = status, bool(body.get("ok")), body
    return web.json_response(body, status=status, headers=headers)
