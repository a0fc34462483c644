"""The review request and the two modals: what to change, and why reject (architecture: Slack).

Pure functions: a `ReviewRequest` in, Block Kit out, within Slack's limits (50 blocks,
3000 characters a section, 2000 a button value). The review calls the requester and
the approvers by name, says who may approve, shows the test result once and a short
preview: from review 2 on, of what changed since the review before. The whole change
does not fit in a message; it is attached to the thread as one file per review.
"""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from agent.models import FileStat, ReviewRequest
from bot.slack import ids
from bot.slack.ids import FeedbackContext, ReviewRef
from bot.slack.kit import JSON, Message, actions, button, context, header, section
from bot.slack.mrkdwn import clip, clip_lines, code_block, escape
from bot.slack.replies import tests_line
from bot.slack.reviewers import Reviewers

MAX_FILES = 15
PREVIEW_LINES = 25
DIFF_PREVIEW_LIMIT = 2500
FILES_LIMIT = 2800
# A plain_text_input's max_length may be 1 to 3000: Slack refuses the whole modal
# (views.open answers invalid_arguments) for anything more.
FEEDBACK_LIMIT = 3000


def diff_filename(request: ReviewRequest) -> str:
    return f"{request.ticket.key}-review-{request.iteration}.diff"


def review_message(
    ref: ReviewRef,
    request: ReviewRequest,
    *,
    requester: str,
    reviewers: Reviewers,
    closed: str | None = None,
) -> Message:
    """The review request; with `closed`, the same message with a note instead of buttons."""
    total = request.iteration + request.revisions_left
    ticket = request.ticket
    calls = reviewers.mentions(requester)
    blocks: list[JSON] = [
        header(f"Review {request.iteration} of {total}: {ticket.key}"),
        section(
            f"{calls}: the change for *{escape(ticket.key)}* is ready for review. "
            f"Approve pushes a branch and opens a pull request; "
            f"{reviewers.who_may_approve()}."
        ),
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
    blocks += _preview(request)
    if closed is not None:
        blocks.append(context(f":lock: {closed}", block_id="review_closed"))
    else:
        blocks.extend(_buttons(ref, request))
    text = (
        f"{calls}: review {request.iteration} of {total} for {escape(ticket.key)}: "
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


def _preview(request: ReviewRequest) -> list[JSON]:
    """A short look at the change; from review 2 on, at what changed since the last one."""
    attached = f"The whole change is attached below as `{escape(diff_filename(request))}`."
    if request.diff_note:
        attached = (
            f"The diff is attached below as `{escape(diff_filename(request))}`. "
            f"{escape(request.diff_note)}"
        )
    if request.since_last is not None:
        before = request.iteration - 1
        if not request.since_last.strip():
            return [
                section(f"*No changes since review {before}*: the agent changed nothing."),
                context(attached),
            ]
        preview = _diff_preview(request.since_last)
        return [section(f"*Changes since review {before}*\n{preview}"), context(attached)]
    if not request.diff.strip():
        return []
    return [section(f"*Diff preview*\n{_diff_preview(request.diff)}"), context(attached)]


def _diff_preview(diff: str) -> str:
    lines = diff.splitlines()
    head = "\n".join(lines[:PREVIEW_LINES])
    shown, cut = clip_lines(head, DIFF_PREVIEW_LIMIT)
    more = len(lines) - len(shown.splitlines())
    block = code_block(shown, DIFF_PREVIEW_LIMIT + 20)
    return block + (f"\n_…{more} more lines in the attached diff_" if more > 0 or cut else "")


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
    reject = button("Reject", ids.REJECT, value, style="danger")  # asks why, in a modal
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
    return _modal(
        feedback,
        callback_id=ids.FEEDBACK_VIEW,
        title="Request changes",
        submit="Send",
        close="Cancel",
        intro="TaskMaster revises the change with your feedback and asks for review again.",
        block_id=ids.FEEDBACK_BLOCK,
        action_id=ids.FEEDBACK_INPUT,
        label="What should change?",
        placeholder="For example: also cover tasks without a due date",
        optional=False,
    )


def reject_modal(feedback: FeedbackContext, ticket: str) -> JSON:
    """Reject, with an optional reason that goes into the thread and onto the ticket."""
    return _modal(
        feedback,
        callback_id=ids.REJECT_VIEW,
        title="Reject this change",
        submit="Reject",
        close="Back",
        intro=f"The change for {escape(ticket)} is discarded; nothing is pushed.",
        block_id=ids.REASON_BLOCK,
        action_id=ids.REASON_INPUT,
        label="Why? (goes into the thread and onto the ticket)",
        placeholder="For example: the module is being replaced next sprint",
        optional=True,
    )


def _modal(
    feedback: FeedbackContext,
    *,
    callback_id: str,
    title: str,
    submit: str,
    close: str,
    intro: str,
    block_id: str,
    action_id: str,
    label: str,
    placeholder: str,
    optional: bool,
) -> JSON:
    field = PlainTextInputElement(
        action_id=action_id,
        multiline=True,
        max_length=FEEDBACK_LIMIT,
        placeholder=PlainTextObject(text=placeholder),
    )
    view = View(
        type="modal",
        callback_id=callback_id,
        title=PlainTextObject(text=title),
        submit=PlainTextObject(text=submit),
        close=PlainTextObject(text=close),
        private_metadata=feedback.encode(),
        blocks=[
            section(intro),
            InputBlock(
                block_id=block_id,
                label=PlainTextObject(text=label),
                element=field,
                optional=optional,
            ),
        ],
    )
    result: JSON = view.to_dict()
    return result
