"""Slack mrkdwn text: escaping, clipping to Block Kit limits, mentions, code blocks.

Everything the agent or a ticket says is untrusted text: `<`, `>` and `&` would be read
as links, mentions or entities, so every piece of it goes through `escape()`.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
_USER_ID = re.compile(r"^[UW][A-Z0-9_]+$")


def escape(text: str) -> str:
    """The three characters Slack requires escaped in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def clip_lines(text: str, limit: int) -> tuple[str, bool]:
    """Whole lines of `text` within `limit` characters, and whether anything was left out."""
    if len(text) <= limit:
        return text, False
    kept: list[str] = []
    size = 0
    for line in text.splitlines():
        size += len(line) + 1
        if size > limit:
            break
        kept.append(line)
    if not kept:  # one huge first line: cut inside it rather than show nothing
        return clip(text, limit), True
    return "\n".join(kept), True


def sentence(text: str) -> str:
    """`text` starting with a capital, the rest as it is (a key like TASK-101 stays)."""
    return text[:1].upper() + text[1:]


def mention(user: str) -> str:
    """A user mention for Slack user ids; other names (a CLI user) are shown as they are."""
    return f"<@{user}>" if _USER_ID.match(user) else escape(user)


def link(url: str, label: str) -> str:
    # Slack's link syntax cannot escape `|` or `>` in the label; drop them.
    return f"<{url}|{escape(label).replace('|', '/')}>"


def code_block(text: str, limit: int) -> str:
    """`text` as a mrkdwn code block whose whole markup fits in `limit` characters.

    Escaping happens before clipping so the entities never push past the limit, and
    triple backticks inside are broken up so they cannot end the block early.
    """
    body = escape(text).replace("```", "`\u200b``")
    body, cut = clip_lines(body, limit - 8 - len(ELLIPSIS) - 1)
    if cut:
        body += "\n" + ELLIPSIS
    return f"```\n{body}\n```"


def duration(seconds: float) -> str:
    """Elapsed time the way a person reads it: 42s, 3:07, 1:02:09."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    if minutes:
        return f"{minutes}:{secs:02d}"
    return f"{secs}s"
