"""Who may decide a review, and whom a review request calls by name.

`TASKMASTER_APPROVERS` (Slack user ids) limits who may approve, ask for changes,
reject, or cancel someone else's run; empty means anyone in the channel.
`SLACK_REVIEW_GROUP` (a user group id, `S...`) is mentioned on every review instead
of each approver by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.settings import Settings
from bot.slack.mrkdwn import mention


@dataclass(frozen=True)
class Reviewers:
    approvers: frozenset[str] = frozenset()
    group: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Reviewers:
        return cls(settings.approvers, settings.slack_review_group)

    def may_review(self, user: str) -> bool:
        return not self.approvers or user in self.approvers

    @property
    def named(self) -> str:
        """The approvers as mentions (`<@U1>, <@U2>`), or the group."""
        if self.group:
            return f"<!subteam^{self.group}>"
        return ", ".join(mention(user) for user in sorted(self.approvers))

    def who_may_approve(self) -> str:
        """Who may decide, in words: the approvers themselves when they are listed."""
        if self.approvers:
            return ", ".join(mention(user) for user in sorted(self.approvers)) + " may approve"
        if self.group:
            return f"{self.named} may approve"
        return "anyone in this channel may approve"

    def mentions(self, requester: str) -> str:
        """Everyone a review request is for: the requester, then the approvers (or group)."""
        people = [mention(requester)]
        if self.group:
            people.append(self.named)
        else:
            people += [mention(user) for user in sorted(self.approvers) if user != requester]
        return " ".join(people)
