"""What one person sees of a channel, as JSON for the web page: the page renders only this.

Everything a user may not see stays out: other people's ephemerals and modals.
"""

from __future__ import annotations

from dataclasses import asdict

from localslack.agents import AgentSurface
from localslack.state import JSON, Ephemeral, Message, View, Workspace

MAX_FILE_PREVIEW = 200_000  # characters of a file's text sent to the page


def snapshot(
    ws: Workspace,
    user: str,
    channel: str,
    *,
    suggestions: list[str],
    notice: str | None = None,
    agents: AgentSurface | None = None,
) -> JSON:
    """The channel as `user` sees it: people, messages with their threads, own ephemerals,
    and the modal open for `user` (the latest, as a pushed view covers the one below).
    """
    room = ws.channel(channel)
    top = ws.messages(room.id)
    return {
        "team": ws.team_id,
        "me": user,
        "users": [
            {"id": u.id, "name": u.name, "real_name": u.real_name, "is_bot": u.is_bot}
            for u in ws.users.values()
        ],
        "channels": [
            {"id": c.id, "name": c.name, **_code_flags(agents, c.id)}
            for c in ws.channels.values()
            if not c.is_im
        ],
        "channel": {"id": room.id, "name": room.name},
        "sessions": _sessions(agents, room.id),
        "code_channel": _code_channel(agents, room.id),
        "messages": [message_json(ws, m) for m in top],
        "replies": {
            m.ts: [message_json(ws, r) for r in ws.thread(room.id, m.ts)]
            for m in top
            if m.reply_count
        },
        "ephemerals": [
            ephemeral_json(e) for e in ws.ephemerals if e.user == user and e.channel == room.id
        ],
        "view": view_json(_open_view(ws, user)),
        "suggestions": suggestions,
        "notice": notice,
    }


def message_json(ws: Workspace, message: Message) -> JSON:
    out = message.to_dict()
    if message.stream is not None:
        out["stream"] = message.stream
    if message.files:
        out["files"] = [_with_preview(ws, f) for f in message.files]
    return out


def ephemeral_json(ephemeral: Ephemeral) -> JSON:
    out = asdict(ephemeral)
    out["ts"] = ephemeral.message_ts
    return out


def view_json(view: View | None) -> JSON | None:
    if view is None:
        return None
    return {"id": view.id, "hash": view.view.get("hash"), "view": view.view, "errors": view.errors}


def _open_view(ws: Workspace, user: str) -> View | None:
    opened = [v for v in ws.views if v.is_open and v.user == user]
    return opened[-1] if opened else None


def _with_preview(ws: Workspace, shared: JSON) -> JSON:
    file = ws.file(str(shared.get("id")))
    if file is None:
        return shared
    text = file.text
    return {
        **shared,
        "preview": text[:MAX_FILE_PREVIEW],
        "truncated": len(text) > MAX_FILE_PREVIEW,
        "lines": text.count("\n") + (0 if text.endswith("\n") or not text else 1),
    }


def _code_flags(agents: AgentSurface | None, channel: str) -> JSON:
    code = agents.code_channels.get(channel) if agents else None
    return {"code": code is not None, "archived": bool(code and code.archived)}


def _sessions(agents: AgentSurface | None, channel: str) -> dict[str, str]:
    """Each agent session of the channel's threads: its status (Stop shows while processing)."""
    if agents is None:
        return {}
    return {
        str(s.thread_ts): s.status
        for s in agents.sessions.values()
        if s.channel == channel and s.thread_ts
    }


def _code_channel(agents: AgentSurface | None, channel: str) -> JSON | None:
    code = agents.code_channels.get(channel) if agents else None
    if code is None:
        return None
    return {
        "name": code.name,
        "context_bar": code.context_bar,
        "views": list(code.views.values()),
        "commands": code.commands,
        "archived": code.archived,
        "origin": code.origin,
    }
