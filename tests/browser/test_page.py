"""LocalSlack's page on its own: Block Kit rendering, live updates, who sees what, escaping,
and the page's actions reaching a recording app exactly as Slack's deliveries would."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack
from tests.localslack.conftest import RecordingApp

pytest.importorskip("playwright", reason="playwright is not installed (pip install playwright)")
from playwright.async_api import Page, expect

DIFF = "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n context\n-old line\n+new line\n"

SHOWCASE: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Review 1 of 4: TASK-9"}},
    {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*bold* _italic_ ~gone~ `code` <https://example.com|Example> <@U_BEN> "
            ":white_check_mark: a &lt;= b\n&gt; quoted",
        },
    },
    {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": "*Files*\n2"},
            {"type": "plain_text", "text": "Tests: 17 passed"},
        ],
    },
    {"type": "section", "text": {"type": "mrkdwn", "text": f"*Diff preview*\n```\n{DIFF}```"}},
    {"type": "divider"},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Requested by <@U_ANA>"}]},
    {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [
                    {"type": "text", "text": "Rich ", "style": {"bold": True}},
                    {"type": "link", "url": "https://example.org", "text": "link"},
                ],
            },
            {
                "type": "rich_text_list",
                "style": "bullet",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "two"}]},
                ],
            },
        ],
    },
    {"type": "markdown", "text": "## Summary\nSome **strong** words and a [doc](https://x.org)."},
    {
        "type": "actions",
        "block_id": "review",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": "v-approve",
            },
            {
                "type": "button",
                "action_id": "revise",
                "text": {"type": "plain_text", "text": "Request changes"},
                "value": "v-revise",
            },
            {
                "type": "button",
                "action_id": "reject",
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": "v-reject",
                "confirm": {
                    "title": {"type": "plain_text", "text": "Reject this change?"},
                    "text": {"type": "mrkdwn", "text": "Nothing is pushed."},
                    "confirm": {"type": "plain_text", "text": "Yes, reject"},
                    "deny": {"type": "plain_text", "text": "Back"},
                    "style": "danger",
                },
            },
        ],
    },
]

MODAL = {
    "type": "modal",
    "callback_id": "feedback",
    "title": {"type": "plain_text", "text": "Request changes"},
    "submit": {"type": "plain_text", "text": "Send"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {
            "type": "input",
            "block_id": "feedback",
            "label": {"type": "plain_text", "text": "What should change?"},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
        }
    ],
}


async def test_block_kit_is_rendered(
    page: Page, ls: LocalSlack, client: AsyncWebClient, output_dir: Path
) -> None:
    await client.chat_postMessage(channel="C_GENERAL", text="fallback", blocks=SHOWCASE)
    await page.goto(ls.base_url)
    message = page.get_by_test_id("messages").locator(".msg").first
    await expect(message.locator("[data-block-type=header]")).to_have_text("Review 1 of 4: TASK-9")
    section = message.locator("[data-block-type=section]").first
    await expect(section.locator("strong")).to_have_text("bold")
    await expect(section.locator("em")).to_have_text("italic")
    await expect(section.locator("s")).to_have_text("gone")
    await expect(section.locator("code")).to_have_text("code")
    await expect(section.get_by_role("link", name="Example")).to_have_attribute(
        "href", "https://example.com"
    )
    await expect(section.locator(".mention")).to_have_text("@ben")
    await expect(section.locator(".emoji")).to_have_text("✅")
    await expect(section).to_contain_text("a <= b")
    await expect(section.locator("blockquote")).to_have_text("quoted")
    await expect(message.locator(".field")).to_have_count(2)
    await expect(message.locator(".diff .line.add")).to_have_text("+new line")
    await expect(message.locator(".diff .line.del")).to_have_text("-old line")
    await expect(message.locator(".diff .line.hunk")).to_have_count(1)
    await expect(message.locator("hr.b-divider")).to_have_count(1)
    await expect(message.locator("[data-block-type=context] .mention.me")).to_have_text("@ana")
    rich = message.locator("[data-block-type=rich_text]")
    await expect(rich.locator("strong")).to_have_text("Rich ")
    await expect(rich.locator("li")).to_have_text(["one", "two"])
    markdown = message.locator("[data-block-type=markdown]")
    await expect(markdown.locator("h4")).to_have_text("Summary")
    await expect(markdown.locator("strong")).to_have_text("strong")
    await expect(markdown.get_by_role("link", name="doc")).to_be_visible()
    buttons = message.locator(".b-actions button")
    await expect(buttons).to_have_text(["Approve", "Request changes", "Reject"])
    await expect(buttons.nth(0)).to_have_class(re.compile(r"\bprimary\b"))
    await expect(buttons.nth(2)).to_have_class(re.compile(r"\bdanger\b"))
    await expect(message).not_to_contain_text("fallback")  # blocks win over the text
    await page.screenshot(path=output_dir / "blocks.png", full_page=True)


async def test_page_updates_live_without_reloading(
    page: Page, ls: LocalSlack, client: AsyncWebClient
) -> None:
    await page.goto(ls.base_url)
    await expect(page.get_by_text("This is the very beginning of #general")).to_be_visible()
    await page.evaluate("window.stillTheSamePage = true")
    messages = page.get_by_test_id("messages")

    root = await client.chat_postMessage(channel="C_GENERAL", text="TASK-1: *starting*")
    await expect(messages.locator(".msg")).to_have_text(re.compile("TASK-1: starting"))
    await client.chat_update(channel="C_GENERAL", ts=root["ts"], text="TASK-1: *done*")
    await expect(messages.locator(".msg")).to_contain_text("TASK-1: done")
    await expect(messages.locator(".msg .edited")).to_have_text("(edited)")

    await client.chat_postMessage(channel="C_GENERAL", thread_ts=root["ts"], text="first reply")
    await messages.get_by_role("button", name=re.compile("1 reply")).click()
    thread = page.get_by_test_id("thread")
    await expect(thread.locator(".msg")).to_have_count(2)
    await expect(thread.locator(".msg").nth(1)).to_contain_text("first reply")
    await client.chat_postMessage(channel="C_GENERAL", thread_ts=root["ts"], text="second reply")
    await expect(thread.locator(".msg").nth(2)).to_contain_text("second reply")
    await expect(messages.get_by_role("button", name=re.compile("2 replies"))).to_be_visible()
    await expect(page.get_by_text("Live")).to_be_visible()
    assert await page.evaluate("window.stillTheSamePage") is True


async def test_ephemeral_shows_only_to_its_person(
    page: Page, ls: LocalSlack, client: AsyncWebClient
) -> None:
    await client.chat_postEphemeral(channel="C_GENERAL", user="U_BEN", text="Only for *ben*")
    await client.chat_postMessage(channel="C_GENERAL", text="for everyone")
    await page.goto(f"{ls.base_url}/?user=U_ANA")
    messages = page.get_by_test_id("messages")
    await expect(messages.locator(".msg")).to_have_count(1)
    await expect(messages).not_to_contain_text("Only for")

    await page.get_by_test_id("user-picker").select_option("U_BEN")
    ephemeral = messages.get_by_test_id("ephemeral")
    await expect(ephemeral).to_contain_text("Only visible to you")
    await expect(ephemeral).to_contain_text("Only for ben")
    assert "user=U_BEN" in page.url
    await ephemeral.get_by_role("button", name="Dismiss").click()
    await expect(ephemeral).to_have_count(0)


async def test_message_text_never_becomes_html(
    page: Page, ls: LocalSlack, client: AsyncWebClient
) -> None:
    attack = '&lt;img src=x onerror="window.pwned=1"&gt; <javascript:window.pwned=2|click me>'
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "<img src=x onerror=pwned=3>"}},
        {"type": "markdown", "text": "<script>window.pwned=4</script> [x](javascript:pwned=5)"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "```<b>not bold</b>```"}},
    ]
    await client.chat_postMessage(channel="C_GENERAL", text=attack)
    await client.chat_postMessage(channel="C_GENERAL", text="x", blocks=blocks)
    await page.goto(ls.base_url)
    messages = page.get_by_test_id("messages")
    await expect(messages.locator(".msg")).to_have_count(2)
    await expect(messages).to_contain_text('<img src=x onerror="window.pwned=1">')
    await expect(messages).to_contain_text("<img src=x onerror=pwned=3>")
    await expect(messages).to_contain_text("<script>window.pwned=4</script>")
    await expect(messages).to_contain_text("<b>not bold</b>")
    await expect(messages.locator("img, script, b")).to_have_count(0)
    await expect(messages.locator("a[href^='javascript']")).to_have_count(0)
    await expect(messages.get_by_text("click me")).to_be_visible()  # shown, not a link

    await page.get_by_test_id("composer").fill("<b>typed</b> & <i>sent</i>")
    await page.get_by_test_id("composer").press("Enter")
    await expect(messages.locator(".msg").last).to_contain_text("<b>typed</b> & <i>sent</i>")
    assert await page.evaluate("window.pwned") is None


async def test_commands_clicks_and_modals_reach_the_app(
    page: Page, ls: LocalSlack, client: AsyncWebClient, app: RecordingApp, output_dir: Path
) -> None:
    posted = await client.chat_postMessage(channel="C_GENERAL", text="review", blocks=SHOWCASE)
    submissions = 0

    async def reply(form: dict[str, Any]) -> web.Response:
        nonlocal submissions
        data = json.loads(form.get("payload", "{}"))
        if data.get("type") == "block_actions" and data["actions"][0]["action_id"] == "revise":
            await client.views_open(trigger_id=data["trigger_id"], view=MODAL)
        if data.get("type") == "view_submission":
            submissions += 1
            if submissions == 1:
                errors = {"feedback": "Say a little more."}
                return web.json_response({"response_action": "errors", "errors": errors})
        return web.Response()

    app.reply = reply
    await page.goto(ls.base_url)
    composer = page.get_by_test_id("composer")
    await composer.fill("/taskmaster TASK-9")
    await composer.press("Enter")
    command = await received(app, lambda f: f.get("command") == "/taskmaster")
    assert (command["text"], command["user_id"]) == ("TASK-9", "U_ANA")

    await composer.fill("/deploy prod")
    await composer.press("Enter")
    await expect(page.get_by_test_id("ephemeral")).to_contain_text("/deploy is not a valid command")

    review = page.locator(f".msg[data-ts='{posted['ts']}']")
    await review.get_by_role("button", name="Reject").click()
    confirm = page.get_by_test_id("confirm")
    await expect(confirm).to_contain_text("Nothing is pushed.")
    await confirm.get_by_role("button", name="Back").click()
    await expect(confirm).to_be_hidden()
    await review.get_by_role("button", name="Reject").click()
    await confirm.get_by_role("button", name="Yes, reject").click()
    rejected = payload(await received(app, lambda f: "payload" in f))
    assert rejected["actions"][0]["action_id"] == "reject"
    assert rejected["actions"][0]["value"] == "v-reject"
    assert rejected["user"]["id"] == "U_ANA"

    await page.get_by_test_id("user-picker").select_option("U_CHO")
    await review.get_by_role("button", name="Request changes").click()
    modal = page.get_by_test_id("modal")
    await expect(modal.get_by_role("dialog")).to_contain_text("What should change?")
    await modal.get_by_role("button", name="Send").click()  # empty: refused on the page
    await expect(modal).to_contain_text("Please complete this required field.")
    await modal.get_by_label("What should change?").fill("Cover the edge case")
    await modal.get_by_role("button", name="Send").click()
    await expect(modal).to_contain_text("Say a little more.")  # the app's errors
    await page.screenshot(path=output_dir / "modal.png")
    await modal.get_by_label("What should change?").fill("Cover the edge case, please")
    await modal.get_by_role("button", name="Send").click()
    await expect(modal).to_be_hidden()
    sent = [payload(f) for f in app.received if "view_submission" in f.get("payload", "")]
    assert [s["user"]["id"] for s in sent] == ["U_CHO", "U_CHO"]
    assert sent[-1]["view"]["state"]["values"]["feedback"]["text"]["value"] == (
        "Cover the edge case, please"
    )


def payload(form: dict[str, Any]) -> Any:
    return json.loads(form["payload"])


async def received(app: RecordingApp, match: Any) -> dict[str, Any]:
    """The latest delivery the app got that `match`es, waiting for it (10 s at most)."""
    async with asyncio.timeout(10):
        while True:
            found = [form for form in app.received if match(form)]
            if found:
                return found[-1]
            await asyncio.sleep(0.05)
