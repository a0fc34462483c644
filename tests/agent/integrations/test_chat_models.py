"""model_factory turns TASKMASTER_MODEL into a per-run chat model factory."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from agent.errors import AuthRefused, ErrorKind
from agent.integrations.chat_models import CallLimits, model_factory
from agent.integrations.scripted_model import ScriptedChatModel
from agent.settings import SettingsError


async def test_model_factory_scripted_reads_the_key_script(tmp_path: Path) -> None:
    (tmp_path / "TASK-1.json").write_text(json.dumps([{"content": "one"}]))
    (tmp_path / "TASK-2.json").write_text(json.dumps([{"content": "two"}]))

    factory = model_factory(f"scripted:{tmp_path}")
    first, second = factory("TASK-1"), factory("TASK-2")

    assert isinstance(first, ScriptedChatModel)
    assert (await first.ainvoke([HumanMessage("go")])).content == "one"
    assert (await second.ainvoke([HumanMessage("go")])).content == "two"


def test_model_factory_scripted_missing_path_is_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TASKMASTER_MODEL=scripted:"):
        model_factory(f"scripted:{tmp_path / 'nowhere'}")


@pytest.mark.parametrize("spec", ["claude-sonnet", "anthropic:", ":model", ""])
def test_model_factory_malformed_spec_names_the_setting(spec: str) -> None:
    with pytest.raises(SettingsError, match="TASKMASTER_MODEL"):
        model_factory(spec)


def test_model_factory_missing_extra_is_one_line_settings_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langchain.chat_models", None)  # import fails

    with pytest.raises(SettingsError) as raised:
        model_factory("anthropic:claude-sonnet-4-5")

    assert str(raised.value) == (
        "TASKMASTER_MODEL=anthropic:claude-sonnet-4-5 needs the provider extra: "
        "pip install 'taskmaster[anthropic]'"
    )


def test_model_factory_other_provider_uses_init_chat_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    model = ScriptedChatModel([])

    def init_chat_model(spec: str, **kwargs: Any) -> ScriptedChatModel:
        calls.append(spec)
        return model

    fake = types.ModuleType("langchain.chat_models")
    fake.init_chat_model = init_chat_model  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain", types.ModuleType("langchain"))
    monkeypatch.setitem(sys.modules, "langchain.chat_models", fake)

    factory = model_factory("openai:gpt-5")

    assert factory("TASK-1") is model
    assert calls == ["openai:gpt-5"]


async def test_a_missing_openai_key_is_auth_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # OpenAI's client refuses to start without a key. (Anthropic's sends the request
    # anyway, and its 401 is `auth` naming ANTHROPIC_API_KEY: tests/agent/providers.)
    for variable in ("OPENAI_API_KEY", "OPENAI_ADMIN_KEY"):
        monkeypatch.delenv(variable, raising=False)
    factory = model_factory("openai:gpt-4o", CallLimits(timeout=1, retries=0))
    with pytest.raises(AuthRefused) as refused:
        factory("TASK-1")
    assert refused.value.kind == ErrorKind.AUTH and refused.value.missing
    assert refused.value.message == "OPENAI_API_KEY is not set: TaskMaster needs it to use OpenAI."
