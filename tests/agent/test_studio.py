"""LangGraph Studio's entry point builds the real graph, without a checkpointer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.studio import make_graph


async def test_studio_graph_is_the_agent_without_a_checkpointer(
    demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in demo_env.items():
        monkeypatch.setenv(name, value)  # Studio hands settings over in the environment
    async with make_graph() as graph:
        assert graph.checkpointer is None
        assert {"plan", "implement", "review", "push"} <= set(graph.get_graph().nodes)


def test_langgraph_json_points_at_the_factory() -> None:
    config = json.loads((Path(__file__).parents[2] / "langgraph.json").read_text())
    assert config["graphs"]["taskmaster"] == "./agent/studio.py:make_graph"
