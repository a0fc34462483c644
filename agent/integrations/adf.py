"""Atlassian Document Format (Jira Cloud REST v3 rich text) to readable Markdown, and back.

The Markdown is for people and the model, not for round trips: text is not escaped
(`snake_case` stays readable), and nodes this module does not know degrade to the
text inside them rather than vanish. The only ADF TaskMaster writes is a comment
body: one paragraph with a link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

Node = dict[str, Any]

ACCEPTANCE_HEADING = "acceptance criteria"
_LISTS = ("bulletList", "orderedList", "taskList", "decisionList")
_ITEMS = ("listItem", "taskItem", "decisionItem")
_TEXT_ITEM = re.compile(r"^\s*(?:(?:[-*+•]|\d+[.)])\s+)?(?:\[[ xX]\]\s*)?(.*?)\s*$")


def to_markdown(doc: Any) -> str:
    """The Markdown of an ADF document (a plain string passes through, None is empty)."""
    if isinstance(doc, str):
        return doc.strip()
    if not isinstance(doc, dict):
        return ""
    return "\n".join(_blocks(_children(doc))).strip()


def _children(node: Node) -> list[Node]:
    content = node.get("content")
    return (
        [child for child in content if isinstance(child, dict)] if isinstance(content, list) else []
    )


def _attrs(node: Node) -> dict[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


def _blocks(nodes: Iterable[Node], *, tight: bool = False) -> list[str]:
    """Render block nodes; a blank line between them unless `tight` (inside list items)."""
    out: list[str] = []
    for node in nodes:
        lines = _block(node)
        if not lines:
            continue
        if out and not tight:
            out.append("")
        out.extend(lines)
    return out


def _block(node: Node) -> list[str]:
    kind = node.get("type")
    attrs = _attrs(node)
    if kind == "paragraph":
        text = _inline(_children(node))
        return text.split("\n") if text.strip() else []
    if kind == "heading":
        level = _heading_level(node) or 1
        return [f"{'#' * max(1, min(6, level))} {_inline(_children(node))}"]
    if kind in _LISTS:
        return _list(node)
    if kind == "codeBlock":
        code = "".join(str(child.get("text", "")) for child in _children(node))
        fence = "```" if "```" not in code else "````"
        return [f"{fence}{attrs.get('language') or ''}", *code.split("\n"), fence]
    if kind == "rule":
        return ["---"]
    if kind in ("blockquote", "panel"):
        return [f"> {line}" if line else ">" for line in _blocks(_children(node))]
    if kind in ("expand", "nestedExpand"):
        title = [f"**{attrs['title']}**"] if attrs.get("title") else []
        return [*title, *_blocks(_children(node), tight=True)]
    if kind == "table":
        return _table(node)
    if kind in ("mediaSingle", "mediaGroup", "media"):
        alt = next(
            (_attrs(n).get("alt") for n in [node, *_children(node)] if _attrs(n).get("alt")), ""
        )
        return [f"[attachment: {alt}]" if alt else "[attachment]"]
    if kind in ("blockCard", "embedCard") and attrs.get("url"):
        return [f"<{attrs['url']}>"]
    if "text" in node or kind in _INLINE:
        text = _inline([node])
        return text.split("\n") if text.strip() else []
    # Unknown block (an extension, a layout): whatever it holds, rendered as blocks.
    return _blocks(_children(node))


def _list(node: Node) -> list[str]:
    kind = node.get("type")
    start = _attrs(node).get("order")
    number = start if isinstance(start, int) else 1
    out: list[str] = []
    for item in _children(node):
        if item.get("type") in _LISTS:  # a task list nests lists directly
            out.extend("  " + line if line else "" for line in _list(item))
            continue
        if kind == "orderedList":
            marker = f"{number}. "
            number += 1
        elif item.get("type") == "taskItem":
            marker = "- [x] " if _attrs(item).get("state") == "DONE" else "- [ ] "
        else:
            marker = "- "
        lines = _item_lines(item) or [""]
        pad = "  " if marker.startswith("- ") else " " * len(marker)
        out.append(marker + lines[0])
        out.extend(pad + line if line else "" for line in lines[1:])
    return out


def _item_lines(item: Node) -> list[str]:
    children = _children(item)
    if children and all(child.get("type") in _INLINE or "text" in child for child in children):
        return _inline(children).split("\n")  # task and decision items hold inline nodes
    return _blocks(children, tight=True)


def _table(node: Node) -> list[str]:
    rows: list[list[str]] = []
    header = False
    for index, row in enumerate(_children(node)):
        cells = _children(row)
        header = header or (index == 0 and any(c.get("type") == "tableHeader" for c in cells))
        rows.append(
            [" ".join(_blocks(_children(c), tight=True)).replace("|", "\\|") for c in cells]
        )
    out = ["| " + " | ".join(row) + " |" for row in rows]
    if header and out:
        out.insert(1, "|" + " --- |" * len(rows[0]))
    return out


_INLINE = ("text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status", "placeholder")


def _inline(nodes: Iterable[Node]) -> str:
    return "".join(_inline_one(node) for node in _merged(nodes))


def _merged(nodes: Iterable[Node]) -> Iterator[Node]:
    """Join adjacent text nodes with the same marks, so `**a****b**` reads `**ab**`."""
    pending: Node | None = None
    for node in nodes:
        if (
            node.get("type") == "text"
            and pending is not None
            and pending.get("marks") == node.get("marks")
        ):
            pending = {**pending, "text": str(pending.get("text", "")) + str(node.get("text", ""))}
            continue
        if pending is not None:
            yield pending
        pending = node if node.get("type") == "text" else None
        if pending is None:
            yield node
    if pending is not None:
        yield pending


def _inline_one(node: Node) -> str:
    kind = node.get("type")
    attrs = _attrs(node)
    if kind == "text":
        return _marked(str(node.get("text", "")), node.get("marks"))
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        name = str(attrs.get("text") or attrs.get("id") or "someone").lstrip("@")
        return f"@{name}"
    if kind == "emoji":
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind == "inlineCard":
        return str(attrs.get("url") or "")
    if kind == "date":
        try:
            moment = datetime.fromtimestamp(int(attrs.get("timestamp", "")) / 1000, tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            return ""
        return moment.date().isoformat()
    if kind == "status":
        return f"[{attrs.get('text', '')}]"
    if kind == "placeholder":
        return ""
    if "text" in node:
        return str(node["text"])
    return _inline(_children(node))


def _marked(text: str, marks: Any) -> str:
    """Apply marks to `text`, keeping edge spaces outside the markers (`** bold**` is not bold)."""
    if not text.strip() or not isinstance(marks, list):
        return text
    core = text.strip()
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    kinds = {mark.get("type"): _attrs(mark) for mark in marks if isinstance(mark, dict)}
    if "code" in kinds:
        tick = "``" if "`" in core else "`"
        core = f"{tick}{core}{tick}" if tick == "`" else f"{tick} {core} {tick}"
    if "em" in kinds:
        core = f"*{core}*"
    if "strong" in kinds:
        core = f"**{core}**"
    if "strike" in kinds:
        core = f"~~{core}~~"
    href = kinds.get("link", {}).get("href")
    if href:
        core = f"[{core}]({href})"
    return f"{lead}{core}{trail}"


def acceptance_criteria(doc: Any, heading: str = ACCEPTANCE_HEADING) -> tuple[str, ...]:
    """The list items in the section under the heading named `heading`, if there is one.

    Jira users often write the heading as a bold paragraph ("**Acceptance criteria:**"),
    so a paragraph that is only that name counts as a heading too.
    """
    if not isinstance(doc, dict):
        return ()
    nodes = _children(doc)
    for index, node in enumerate(nodes):
        level = _heading_level(node)
        if level is None or _plain(node).rstrip(":").strip().casefold() != heading.casefold():
            continue
        section: list[Node] = []
        for following in nodes[index + 1 :]:
            next_level = _heading_level(following)
            if next_level is not None and next_level <= level:
                break
            section.append(following)
        return list_items({"type": "doc", "content": section})
    return ()


def _heading_level(node: Node) -> int | None:
    if node.get("type") == "heading":
        level = _attrs(node).get("level")
        return level if isinstance(level, int) else 1
    texts = [c for c in _children(node) if str(c.get("text", "")).strip()]
    if node.get("type") == "paragraph" and texts:
        bold = all(
            any(isinstance(m, dict) and m.get("type") == "strong" for m in c.get("marks") or [])
            for c in texts
        )
        return 7 if bold else None  # below every real heading, so they end its section
    return None


def _plain(node: Node) -> str:
    if "text" in node:
        return str(node["text"])
    return "".join(_plain(child) for child in _children(node))


def list_items(doc: Any) -> tuple[str, ...]:
    """Every list item of `doc`, nested ones included, as one line of inline Markdown each.

    With no list at all, each non-empty paragraph line counts as an item.
    """
    if isinstance(doc, str):
        return text_items(doc)
    if not isinstance(doc, dict):
        return ()
    items = tuple(_collect_items(_children(doc)))
    if items:
        return items
    paragraphs = (_inline(_children(n)) for n in _children(doc) if n.get("type") == "paragraph")
    return text_items("\n".join(paragraphs))


def _collect_items(nodes: list[Node]) -> Iterator[str]:
    for node in nodes:
        if node.get("type") in _ITEMS:
            own = [c for c in _children(node) if c.get("type") not in _LISTS]
            if all(c.get("type") in _INLINE or "text" in c for c in own):
                text = _inline(own)
            else:
                text = " ".join(
                    _inline(_children(c)) if _children(c) else _inline([c]) for c in own
                )
            text = " ".join(text.split())
            if text:
                yield text
            yield from _collect_items([c for c in _children(node) if c.get("type") in _LISTS])
        elif node.get("type") != "codeBlock":
            yield from _collect_items(_children(node))


def text_items(text: str) -> tuple[str, ...]:
    """Lines of plain text as items, list markers and checkboxes stripped."""
    items = (_TEXT_ITEM.match(line) for line in text.splitlines())
    return tuple(match.group(1) for match in items if match and match.group(1))


def link_comment(text: str, link_text: str, url: str) -> Node:
    """An ADF comment body: one paragraph, `text` then `link_text` linked to `url`."""
    content: list[Node] = []
    if text:
        content.append({"type": "text", "text": text})
    content.append(
        {"type": "text", "text": link_text, "marks": [{"type": "link", "attrs": {"href": url}}]}
    )
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": content}]}


def paragraph_comment(text: str) -> Node:
    """An ADF comment body: `text` as paragraphs, one per block of lines."""
    paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()] or [text]
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": part}]}
            for part in paragraphs
        ],
    }
