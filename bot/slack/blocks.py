"""The review request and the feedback modal (DESIGN sections 1.3 and 6).

Pure functions: a `ReviewRequest` in, Block Kit out, within Slack's limits (50 blocks,
3000 characters a section, 2000 a button value). The full diff does not fit in a
message; it is attached to the thread as a file, and the message shows a preview.
"""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from agent.models import FileStat, ReviewRequest
from bot.slack import ids
from bot.slack.ids import FeedbackContext, ReviewRef
from bot.slack.kit import JSON, Message, actions, button, confirm, context, header, section
from bot.slack.mrkdwn import clip, code_block, escape
from bot.slack.replies import tests_line

MAX_FILES = 15
DIFF_PREVIEW_LIMIT = 2500
FILES_LIMIT = 2800
# A plain_text_input's max_length may be 1 to 3000: Slack refuses the whole modal
# (views.open answers invalid_arguments) for anything more.
FEEDBACK_LIMIT = 3000


def diff_filename(request: ReviewRequest) -> str:
    return f"{request.ticket.key}.diff"


def review_message(ref: ReviewRef, request: ReviewRequest, *, closed: str | None = None) -> Message:
    """The review request; with `closed`, the same message with a note instead of buttons."""
    total = request.iteration + request.revisions_left
    ticket = request.ticket
    blocks: list[JSON] = [
        header(f"Review {request.iteration} of {total}: {ticket.key}"),
        section(_about(request)),
        section(_files(request.files)),
        section(tests_line(request.tests)),
    ]
    if not request.touches_tests:
        blocks.append(
            context(
                ":warning: *No test file changed.* Every change should add or update a test; "
                "ask for one with Request changes if this one needs it."
            )
        )
    blocks.extend(section(part) for part in _warnings(request.warnings))
    if request.diff.strip():
        preview = code_block(request.diff, DIFF_PREVIEW_LIMIT)
        blocks.append(section(f"*Diff preview*\n{preview}"))
        blocks.append(context(f"The full diff is attached below as `{diff_filename(request)}`."))
    if closed is not None:
        blocks.append(context(f":lock: {closed}", block_id="review_closed"))
    else:
        blocks.extend(_buttons(ref, request))
    text = (
        f"Review {request.iteration} of {total} for {ticket.key}: "
        f"{len(request.files)} files changed, {tests_line(request.tests)}"
    )
    return clip(text, 3000), blocks


def _warnings(warnings: tuple[str, ...]) -> list[str]:
    """Every warning, none dropped: as many sections as they need (3000 characters each)."""
    parts: list[str] = []
    for warning in warnings:
        line = f":warning: {escape(clip(warning, 1000))}"
        if parts and len(parts[-1]) + 1 + len(line) <= 3000:
            parts[-1] += "\n" + line
        else:
            parts.append(line)
    return parts


def _about(request: ReviewRequest) -> str:
    lines = [f"*{escape(request.ticket.key)}*: {escape(clip(request.ticket.title, 200))}"]
    if request.summary:
        lines.append(escape(clip(request.summary, 1200)))
    lines.append(f"*Plan:* {escape(clip(request.plan.summary, 1200))}")
    return "\n".join(lines)


def _files(files: tuple[FileStat, ...]) -> str:
    if not files:
        return "*Files changed:* none"
    added = sum(f.added for f in files)
    removed = sum(f.removed for f in files)
    lines = [f"*Files changed:* {len(files)} (+{added} -{removed})"]
    size = len(lines[0])
    shown = 0
    for stat in files[:MAX_FILES]:
        note = "" if stat.status == "modified" else f" _{stat.status}_"
        line = f"• `{escape(clip(stat.path, 150))}` +{stat.added} -{stat.removed}{note}"
        if size + len(line) > FILES_LIMIT:  # leave room for the line that says how many more
            break
        lines.append(line)
        size += len(line) + 1
        shown += 1
    if len(files) > shown:
        lines.append(f"…and {len(files) - shown} more in the attached diff")
    return "\n".join(lines)


def _buttons(ref: ReviewRef, request: ReviewRequest) -> list[JSON]:
    value = ref.encode()
    approve = button("Approve", ids.APPROVE, value, style="primary")
    revise = button("Request changes", ids.REVISE, value)
    reject = button(
        "Reject",
        ids.REJECT,
        value,
        style="danger",
        confirm=confirm(
            "Reject this change?",
            f"The change for {escape(request.ticket.key)} is discarded; nothing is pushed.",
            "Reject",
        ),
    )
    if request.revisions_left > 0:
        return [actions(approve, revise, reject, block_id=ids.REVIEW_ACTIONS_BLOCK)]
    return [
        actions(approve, reject, block_id=ids.REVIEW_ACTIONS_BLOCK),
        context(
            "No revisions left (the limit is TASKMASTER_MAX_REVISIONS): "
            "approve or reject this change."
        ),
    ]


def feedback_modal(feedback: FeedbackContext) -> JSON:
    """The modal that asks what to change; private_metadata says which review it answers."""
    field = PlainTextInputElement(
        action_id=ids.FEEDBACK_INPUT,
        multiline=True,
        max_length=FEEDBACK_LIMIT,
        placeholder=PlainTextObject(text="For example: also cover tasks without a due date"),
    )
    view = View(
        type="modal",
        callback_id=ids.FEEDBACK_VIEW,
        title=PlainTextObject(text="Request changes"),
        submit=PlainTextObject(text="Send"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=feedback.encode(),
        blocks=[
            section("TaskMaster revises the change with your feedback and asks for review again."),
            InputBlock(
                block_id=ids.FEEDBACK_BLOCK,
                label=PlainTextObject(text="What should change?"),
                element=field,
            ),
        ],
    )
    result: JSON = view.to_dict()
    return result
