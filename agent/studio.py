"""The graph for LangGraph Studio and `langgraph dev` (see langgraph.json).

It is compiled without a checkpointer: LangGraph's server brings its own and refuses
a graph that has one. Settings come from the environment and `.env`, as for every
other entry point.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dotenv import load_dotenv

from agent.graph import Graph, compile_graph
from agent.runs.runtime import open_deps
from agent.settings import load_settings


@asynccontextmanager
async def make_graph() -> AsyncIterator[Graph]:
    load_dotenv()
    settings = load_settings(os.environ)
    async with open_deps(settings, os.environ) as deps:  # the composition root's services
        yield compile_graph(deps, checkpointer=None)
