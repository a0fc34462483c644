"""`build_graph(deps)`: the agent as a LangGraph state graph (docs/architecture.md, The graph).

load_ticket -> prepare_workspace -> plan -> implement <-> act -> verify -> prepare_review
-> review, then approve: push -> open_pull_request -> report -> finish;
revise: back to implement with the feedback; reject: discard.
"""

from __future__ import annotations

from functools import partial

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.deps import Deps
from agent.nodes import deliver, implement, intake, plan, reject, review, verify
from agent.state import RunState

Graph = CompiledStateGraph[RunState, None, RunState, RunState]


def build_graph(deps: Deps) -> StateGraph[RunState, None, RunState, RunState]:
    graph = StateGraph(RunState)
    graph.add_node("load_ticket", partial(intake.load_ticket, deps=deps))
    graph.add_node("prepare_workspace", partial(intake.prepare_workspace, deps=deps))
    graph.add_node("plan", partial(plan.plan, deps=deps))
    graph.add_node("implement", partial(implement.implement, deps=deps))
    graph.add_node("act", partial(implement.act, deps=deps))
    graph.add_node(
        "verify", partial(verify.verify, deps=deps), destinations=("implement", "prepare_review")
    )
    graph.add_node("prepare_review", partial(review.prepare_review, deps=deps))
    graph.add_node(
        "review", review.review, destinations=("push", "implement", "note_rejection", "review")
    )
    graph.add_node("push", partial(deliver.push, deps=deps))
    graph.add_node("open_pull_request", partial(deliver.open_pull_request, deps=deps))
    graph.add_node("report", partial(deliver.report, deps=deps))
    graph.add_node("finish", deliver.finish)
    graph.add_node("note_rejection", partial(reject.note_rejection, deps=deps))
    graph.add_node("discard", deliver.discard)

    graph.add_edge(START, "load_ticket")
    graph.add_edge("load_ticket", "prepare_workspace")
    graph.add_edge("prepare_workspace", "plan")
    graph.add_edge("plan", "implement")
    graph.add_conditional_edges("implement", implement.after_implement, ["act", "implement"])
    graph.add_conditional_edges("act", implement.after_act, ["verify", "implement"])
    graph.add_edge("prepare_review", "review")
    graph.add_edge("push", "open_pull_request")
    graph.add_edge("open_pull_request", "report")
    graph.add_edge("report", "finish")
    graph.add_edge("finish", END)
    graph.add_edge("note_rejection", "discard")
    graph.add_edge("discard", END)
    return graph


def compile_graph(deps: Deps, checkpointer: BaseCheckpointSaver[str] | None) -> Graph:
    return build_graph(deps).compile(checkpointer=checkpointer)
