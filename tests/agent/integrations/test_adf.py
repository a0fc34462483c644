"""Atlassian Document Format to Markdown, acceptance criteria, and the comment body."""

from __future__ import annotations

from typing import Any

from agent.integrations import adf
from tests.fakes.jira import (
    SAMPLE_CRITERIA,
    SAMPLE_DESCRIPTION,
    SAMPLE_MARKDOWN,
    bullets,
    doc,
    heading,
    item,
    para,
    text,
)


def test_adf_description_becomes_readable_markdown() -> None:
    assert adf.to_markdown(SAMPLE_DESCRIPTION) == SAMPLE_MARKDOWN


def test_adf_acceptance_criteria_are_the_items_under_the_heading() -> None:
    assert adf.acceptance_criteria(SAMPLE_DESCRIPTION) == SAMPLE_CRITERIA


def test_adf_acceptance_criteria_under_a_bold_paragraph_end_at_the_next_heading() -> None:
    description = doc(
        para(text("Acceptance criteria:", {"type": "strong"})),
        {
            "type": "taskList",
            "attrs": {"localId": "t"},
            "content": [
                {"type": "taskItem", "attrs": {"state": "TODO"}, "content": [text("first")]},
                {"type": "taskItem", "attrs": {"state": "DONE"}, "content": [text("second")]},
            ],
        },
        heading("Out of scope", level=3),
        bullets(item(text("not this"))),
    )
    assert adf.acceptance_criteria(description) == ("first", "second")
    assert "- [ ] first\n- [x] second" in adf.to_markdown(description)


def test_adf_without_acceptance_heading_has_no_criteria() -> None:
    assert adf.acceptance_criteria(doc(heading("Context"), bullets(item(text("a"))))) == ()
    assert adf.acceptance_criteria(None) == ()


def test_adf_list_items_of_a_field_value() -> None:
    assert adf.list_items(doc(bullets(item(text("a")), item(text("b"))))) == ("a", "b")
    assert adf.list_items(doc(para(text("only one line")))) == ("only one line",)
    assert adf.list_items("- one\n* two\n1. three\n[x] four\n\n") == ("one", "two", "three", "four")
    assert adf.list_items(None) == ()


def test_adf_ordered_list_keeps_its_start_and_indents_continuations() -> None:
    ordered = {
        "type": "orderedList",
        "attrs": {"order": 9},
        "content": [item(text("nine")), item(text("ten"), bullets(item(text("deep"))))],
    }
    assert adf.to_markdown(doc(ordered)) == "9. nine\n10. ten\n    - deep"


def test_adf_marks_keep_spaces_outside_and_combine() -> None:
    strong_link = [{"type": "strong"}, {"type": "link", "attrs": {"href": "https://x.test"}}]
    description = doc(
        para(
            text("a "),
            text(" bold ", {"type": "strong"}),
            text("and "),
            text("both", *strong_link),
            text(" "),
            text("gone", {"type": "strike"}),
            text(" "),
            text("a`b", {"type": "code"}),
        )
    )
    assert (
        adf.to_markdown(description)
        == "a  **bold** and [**both**](https://x.test) ~~gone~~ `` a`b ``"
    )


def test_adf_small_inline_nodes() -> None:
    nodes: list[dict[str, Any]] = [
        {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}},
        text(" "),
        {"type": "inlineCard", "attrs": {"url": "https://jira.test/browse/A-1"}},
        text(" "),
        {"type": "date", "attrs": {"timestamp": "1714521600000"}},
        text(" "),
        {"type": "status", "attrs": {"text": "BLOCKED", "color": "red"}},
        text(" "),
        {"type": "mention", "attrs": {"id": "1", "text": "Bo"}},
    ]
    assert (
        adf.to_markdown(doc(para(*nodes)))
        == "😄 https://jira.test/browse/A-1 2024-05-01 [BLOCKED] @Bo"
    )


def test_adf_unknown_nodes_degrade_to_their_text() -> None:
    description = doc(
        {
            "type": "layoutSection",
            "content": [{"type": "layoutColumn", "content": [para(text("left"))]}],
        },
        {"type": "extension", "attrs": {"extensionKey": "macro"}},
        para({"type": "futureInline", "content": [text("inner")]}, text(" tail")),
        {"type": "panel", "attrs": {"panelType": "info"}, "content": [para(text("note"))]},
    )
    assert adf.to_markdown(description) == "left\n\ninner tail\n\n> note"


def test_adf_table_and_media() -> None:
    def cell(kind: str, value: str) -> dict[str, Any]:
        return {"type": kind, "content": [para(text(value))]}

    table = {
        "type": "table",
        "content": [
            {
                "type": "tableRow",
                "content": [cell("tableHeader", "Name"), cell("tableHeader", "Age")],
            },
            {"type": "tableRow", "content": [cell("tableCell", "a|b"), cell("tableCell", "3")]},
        ],
    }
    media = {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"alt": "screen.png"}}]}
    expected = "| Name | Age |\n| --- | --- |\n| a\\|b | 3 |\n\n[attachment: screen.png]"
    assert adf.to_markdown(doc(table, media)) == expected


def test_adf_plain_strings_and_nothing() -> None:
    assert adf.to_markdown("  already text  ") == "already text"
    assert adf.to_markdown(None) == ""


def test_adf_link_comment_is_a_paragraph_with_a_link_mark() -> None:
    body = adf.link_comment("Opened ", "#7 Fix it", "https://github.com/acme/app/pull/7")
    assert body["type"] == "doc" and body["version"] == 1
    [paragraph] = body["content"]
    assert paragraph["type"] == "paragraph"
    link = paragraph["content"][1]
    assert link["marks"] == [
        {"type": "link", "attrs": {"href": "https://github.com/acme/app/pull/7"}}
    ]
    assert adf.to_markdown(body) == "Opened [#7 Fix it](https://github.com/acme/app/pull/7)"
