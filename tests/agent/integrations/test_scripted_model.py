"""The scripted chat model plays its turns back by the conversation's AI message count."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from pydantic import BaseModel

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations.scripted_model import ScriptedChatModel, ScriptTurn, load_script

TURNS: list[dict[str, Any]] = [
    {"content": "Planning.", "tool_calls": [{"name": "submit_plan", "args": {"summary": "s"}}]},
    {
        "content": "Reading.",
        "tool_calls": [
            {"name": "read_file", "args": {"path": "a.py"}},
            {"name": "list_files", "args": {"path": "."}},
        ],
    },
    {"content": "Done."},
]


class SubmitPlan(BaseModel):
    """Submit the plan."""

    summary: str


def conversation(model_turns: int) -> list[BaseMessage]:
    """A conversation in which the model has already answered `model_turns` times."""
    messages: list[BaseMessage] = [HumanMessage("Fix TASK-1")]
    for turn in range(model_turns):
        messages.append(AIMessage(f"turn {turn}"))
        messages.append(ToolMessage("ok", tool_call_id=f"call_{turn + 1}_0"))
    return messages


async def test_scripted_model_answers_turn_by_ai_message_count() -> None:
    model = ScriptedChatModel(TURNS)

    first = await model.ainvoke(conversation(0))
    second = await model.ainvoke(conversation(1))
    second_again = model.invoke(conversation(1))  # no hidden counter: same history, same turn
    third = await model.ainvoke(conversation(2))

    assert [first.content, second.content, second_again.content, third.content] == [
        "Planning.",
        "Reading.",
        "Reading.",
        "Done.",
    ]
    assert third.tool_calls == []


async def test_scripted_model_adds_tool_call_ids() -> None:
    answer = await ScriptedChatModel(TURNS).ainvoke(conversation(1))

    assert answer.tool_calls == [
        {"name": "read_file", "args": {"path": "a.py"}, "id": "call_2_0", "type": "tool_call"},
        {"name": "list_files", "args": {"path": "."}, "id": "call_2_1", "type": "tool_call"},
    ]


async def test_scripted_model_past_the_end_fails_promptly_with_model_output() -> None:
    model = ScriptedChatModel(TURNS)

    with pytest.raises(TaskmasterError) as raised:
        await asyncio.wait_for(model.ainvoke(conversation(3)), timeout=5)

    assert raised.value.kind is ErrorKind.MODEL_OUTPUT
    assert raised.value.message == (
        "The scripted model has no turn 4: its script ended after 3 turns."
    )
    with pytest.raises(TaskmasterError):
        model.invoke(conversation(4))


async def test_scripted_model_bind_tools_accepts_pydantic_models() -> None:
    model = ScriptedChatModel(TURNS)

    bound = model.bind_tools([SubmitPlan], tool_choice="submit_plan")
    answer = await bound.ainvoke(conversation(0))

    assert bound is model
    assert answer.tool_calls[0]["name"] == "submit_plan"


async def test_scripted_model_does_not_share_args_with_its_script() -> None:
    model = ScriptedChatModel(TURNS)
    answer = await model.ainvoke(conversation(0))
    answer.tool_calls[0]["args"]["summary"] = "changed"

    again = await model.ainvoke(conversation(0))

    assert again.tool_calls[0]["args"] == {"summary": "s"}


def test_load_script_from_file_serves_every_key(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(TURNS))

    assert load_script(path, "TASK-1") == load_script(path, "OTHER-2")
    assert load_script(path, "TASK-1").turns[2] == ScriptTurn(content="Done.")


def test_load_script_from_folder_by_key(tmp_path: Path) -> None:
    (tmp_path / "TASK-1.json").write_text(json.dumps(TURNS[:1]))

    script = load_script(tmp_path, "TASK-1")

    assert [t.content for t in script.turns] == ["Planning."] and script.then is None
    with pytest.raises(TaskmasterError) as raised:
        load_script(tmp_path, "TASK-2")
    assert raised.value.kind is ErrorKind.INVALID_INPUT
    assert raised.value.message == f"No script for TASK-2 in {tmp_path}"


@pytest.mark.parametrize(
    "text",
    [
        "[{",
        '{"content": "not a list"}',
        '[{"content": "x", "tool_calls": [{"args": {}}]}]',
        '[{"content": "x", "extra": 1}]',
    ],
)
def test_load_script_malformed_file_is_invalid_input_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text)

    with pytest.raises(TaskmasterError) as raised:
        load_script(path, "TASK-1")

    assert raised.value.kind is ErrorKind.INVALID_INPUT
    assert str(path) in raised.value.message


async def test_then_answers_every_call_past_the_script(tmp_path: Path) -> None:
    then = {
        "content": "A scripted model: nothing more to change.",
        "tool_calls": [{"name": "finish", "args": {"summary": "no change"}}],
    }
    (tmp_path / "TASK-1.json").write_text(json.dumps({"turns": TURNS[:1], "then": then}))
    script = load_script(tmp_path, "TASK-1")
    model = ScriptedChatModel(script.turns, then=script.then)

    late = [await model.ainvoke(conversation(n)) for n in (1, 5)]

    assert [a.content for a in late] == [then["content"]] * 2
    assert [a.tool_calls[0]["id"] for a in late] == ["call_2_0", "call_6_0"]  # still unique


def test_load_script_folder_key_never_reaches_outside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (tmp_path / "TASK-1.json").write_text(json.dumps(TURNS[:1]))  # outside: never read

    with pytest.raises(TaskmasterError) as raised:
        load_script(folder, "../TASK-1")

    assert raised.value.kind is ErrorKind.INVALID_INPUT
    assert raised.value.message == f"No script for ../TASK-1 in {folder}"


@pytest.mark.parametrize(("key", "name"), [("#12", "12"), ("acme/app#7", "acme-app-7")])
def test_load_script_folder_names_gitlab_keys_safely(tmp_path: Path, key: str, name: str) -> None:
    (tmp_path / f"{name}.json").write_text(json.dumps(TURNS[:1]))

    assert [t.content for t in load_script(tmp_path, key).turns] == ["Planning."]
