"""What every Slack listener needs, passed to each surface's `register(app, deps)`."""

from __future__ import annotations

from dataclasses import dataclass

from agent.runs.manager import RunManager
from agent.settings import Settings
from bot.slack.reporter import ThreadReporter


@dataclass(frozen=True)
class SlackDeps:
    settings: Settings
    manager: RunManager
    reporter: ThreadReporter

    def may_review(self, user: str) -> bool:
        """TASKMASTER_APPROVERS, when set, names everyone who may decide or cancel."""
        return not self.settings.approvers or user in self.settings.approvers

    @property
    def approvers_text(self) -> str:
        return ", ".join(f"<@{user}>" for user in sorted(self.settings.approvers))
