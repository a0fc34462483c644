"""TaskMaster's engine: the graph, its tools, the integrations and the run lifecycle.

It knows nothing of Slack or terminals; surfaces in `bot` drive it.
"""
