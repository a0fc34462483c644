"""The conversation as sent to a model: repaired to what providers accept, fitted to budget."""

from __future__ import annotations

import pytest
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from agent.conversation import (
    EMPTY_REPLY,
    LOW_WATER,
    NO_RESULT,
    SHORTENED,
    estimate_tokens,
    fit,
    message_tokens,
    repair,
    request_tokens,
)
from agent.errors import Budget, BudgetExhausted
from agent.tools.toolset import IMPLEMENT_TOOLS

FEEDBACK = "Please also cover TaskService.overdue() with a test."


def read(number: int, size: int = 3000) -> list[BaseMessage]:
    """One turn: the model reads a file, the tool answers with `size` characters."""
    call_id = f"call_{number}"
    return [
        AIMessage(
            "",
            tool_calls=[{"name": "read_file", "args": {"path": f"f{number}.py"}, "id": call_id}],
        ),
        ToolMessage(
            f"f{number}.py lines 1-80\n" + "x" * size, tool_call_id=call_id, name="read_file"
        ),
    ]


def start() -> list[BaseMessage]:
    return [SystemMessage("You are TaskMaster."), HumanMessage("Ticket TASK-101: fix it.")]


def test_repair_answers_a_broken_call_left_unanswered_by_a_failed_run() -> None:
    # What a run that failed on a cut-off reply left in its checkpoint, before `act`
    # answered invalid calls: the call, then the nudge, and no tool reply.
    broken = AIMessage(
        "",
        invalid_tool_calls=[
            {"name": "write_file", "args": '{"path": "a.py", "con', "id": "call_9", "error": "x"}
        ],
    )
    nudge = HumanMessage("Continue with the tools.")

    repaired = repair([*start(), broken, nudge])

    assert [type(m) for m in repaired] == [
        SystemMessage,
        HumanMessage,
        AIMessage,
        ToolMessage,
        HumanMessage,
    ]
    call = repaired[2]
    assert isinstance(call, AIMessage)
    assert call.tool_calls == [
        {"name": "write_file", "args": {}, "id": "call_9", "type": "tool_call"}
    ]
    reply = repaired[3]
    assert isinstance(reply, ToolMessage) and reply.tool_call_id == "call_9"
    assert reply.text == NO_RESULT and reply.status == "error"
    assert repaired[4] is nudge


def test_repair_drops_orphan_replies_and_fills_empty_turns() -> None:
    orphan = ToolMessage("late", tool_call_id="call_gone", name="read_file")
    empty = AIMessage("")
    repaired = repair([*start(), orphan, empty, HumanMessage("Continue.")])
    assert orphan not in repaired
    assert [m.text for m in repaired if isinstance(m, AIMessage)] == [EMPTY_REPLY]


def test_repair_leaves_a_valid_conversation_alone() -> None:
    messages = [*start(), *read(1), *read(2), HumanMessage(FEEDBACK)]
    assert repair(messages) == messages


def test_fit_shortens_old_tool_output_first_and_keeps_people_and_recent_output_whole() -> None:
    messages = [*start()]
    for number in range(30):
        messages += read(number)
        if number == 10:
            messages.append(HumanMessage(FEEDBACK))
    budget = 12_000

    fitted, estimate = fit(messages, IMPLEMENT_TOOLS, budget)

    assert request_tokens(fitted, IMPLEMENT_TOOLS) == estimate <= budget
    assert request_tokens(messages, IMPLEMENT_TOOLS) > budget  # there was something to do
    replies = [m for m in fitted if isinstance(m, ToolMessage)]
    assert all(not r.text.startswith(SHORTENED) for r in replies[-4:])  # the latest stay whole
    shortened = [r for r in replies if r.text.startswith(SHORTENED)]
    assert shortened and shortened == replies[: len(shortened)]  # oldest first
    assert "read_file result had 3," in shortened[0].text
    assert "Call read_file again" in shortened[0].text
    assert any(isinstance(m, HumanMessage) and m.text == FEEDBACK for m in fitted)
    assert [m.id for m in fitted] == [m.id for m in messages]  # same messages, some shorter


def test_fit_shortens_old_arguments_when_outputs_are_not_enough() -> None:
    messages = [*start()]
    for number in range(12):
        call_id = f"call_w{number}"
        messages += [
            AIMessage(
                "",
                tool_calls=[
                    {
                        "name": "write_file",
                        "args": {"path": "a.py", "content": "y" * 4000},
                        "id": call_id,
                    }
                ],
            ),
            ToolMessage("wrote a.py", tool_call_id=call_id, name="write_file"),
        ]
    fitted, estimate = fit(messages, IMPLEMENT_TOOLS, 8_000)
    assert estimate <= 8_000
    first = next(m for m in fitted if isinstance(m, AIMessage))
    assert "shortened by TaskMaster" in first.tool_calls[0]["args"]["content"]


def test_fit_that_cannot_fit_says_which_setting_to_raise() -> None:
    huge = [SystemMessage("s" * 30_000), HumanMessage("ticket")]
    with pytest.raises(BudgetExhausted) as caught:
        fit(huge, IMPLEMENT_TOOLS, 5_000)
    assert caught.value.budget is Budget.CONTEXT
    assert "TASKMASTER_CONTEXT_TOKENS=5,000" in caught.value.message


def test_estimate_counts_text_arguments_and_schemas() -> None:
    assert estimate_tokens("x" * 30) == 10
    turn = read(1, size=300)
    assert message_tokens(turn[1]) > estimate_tokens("x" * 300)
    assert request_tokens([], IMPLEMENT_TOOLS) > 0


def test_fit_shortens_well_below_the_line_so_the_next_requests_keep_their_beginning() -> None:
    messages = [*start()]
    for number in range(30):
        messages += read(number)
    budget = 12_000
    fitted, estimate = fit(messages, IMPLEMENT_TOOLS, budget)
    assert estimate <= budget * LOW_WATER

    # The next turns only add: nothing before them changes until the line is reached again.
    grown = [*fitted, *read(30), *read(31)]
    refitted, _ = fit(grown, IMPLEMENT_TOOLS, budget)
    assert refitted == grown


def test_fit_shortens_even_the_latest_calls_arguments_before_giving_up() -> None:
    # The model wrote a 300 KB file in its last turn: the tool has run, the file is
    # there to read; the request need not carry it again.
    huge = AIMessage(
        "",
        tool_calls=[
            {"name": "write_file", "args": {"path": "big.txt", "content": "a" * 300_000}, "id": "w"}
        ],
    )
    wrote = ToolMessage("wrote big.txt", tool_call_id="w", name="write_file")
    fitted, estimate = fit([*start(), huge, wrote], IMPLEMENT_TOOLS, 20_000)
    assert estimate <= 20_000
    assert fitted[-1] is wrote
