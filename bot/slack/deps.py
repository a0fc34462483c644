"""What every Slack listener needs, passed to each surface's `register(app, deps)`."""

from __future__ import annotations

from dataclasses import dataclass

from agent.runs.manager import RunManager
from agent.runs.records import RunRecord
from agent.settings import Settings
from bot.slack.after_ack import AfterAck
from bot.slack.reporter import ThreadReporter
from bot.slack.reviewers import Reviewers
from bot.slack.threads import ThreadStore


@dataclass(frozen=True)
class SlackDeps:
    settings: Settings
    manager: RunManager
    reporter: ThreadReporter
    threads: ThreadStore  # where each run shows in Slack
    after_ack: AfterAck  # wraps every listener: Slack gets the ack, the rest runs on

    async def run_at(self, channel: str, root_ts: str) -> RunRecord | None:
        """The run whose thread starts at this message, if any."""
        run_id = await self.threads.run_at(channel, root_ts)
        return None if run_id is None else await self.manager.store.get(run_id)

    @property
    def reviewers(self) -> Reviewers:
        return self.reporter.reviewers

    def may_review(self, user: str) -> bool:
        """TASKMASTER_APPROVERS, when set, names everyone who may decide or cancel."""
        return self.reviewers.may_review(user)

    @property
    def approvers_text(self) -> str:
        return self.reviewers.named
