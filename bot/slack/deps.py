"""What every Slack listener needs, passed to each surface's `register(app, deps)`."""

from __future__ import annotations

from dataclasses import dataclass

from agent.runs.manager import RunManager
from agent.settings import Settings
from bot.slack.reporter import ThreadReporter
from bot.slack.reviewers import Reviewers


@dataclass(frozen=True)
class SlackDeps:
    settings: Settings
    manager: RunManager
    reporter: ThreadReporter

    @property
    def reviewers(self) -> Reviewers:
        return self.reporter.reviewers

    def may_review(self, user: str) -> bool:
        """TASKMASTER_APPROVERS, when set, names everyone who may decide or cancel."""
        return self.reviewers.may_review(user)

    @property
    def approvers_text(self) -> str:
        return self.reviewers.named
