"""Ticket keys: Jira-style parsing, and the slug that goes into branch and file names."""

from __future__ import annotations

import pytest

from agent.errors import ErrorKind, TaskmasterError
from agent.git import git
from agent.integrations.keys import jira_style_key, key_slug
from agent.models import Ticket
from agent.nodes.intake import branch_name


@pytest.mark.parametrize(("typed", "key"), [("TASK-101", "TASK-101"), (" task-7 ", "TASK-7")])
def test_jira_style_key_is_upper_case(typed: str, key: str) -> None:
    assert jira_style_key(typed) == key


@pytest.mark.parametrize("typed", ["#12", "acme/app#12", "TASK-0", "TASK", "../TASK-1", ""])
def test_jira_style_key_refuses_others_saying_what_keys_look_like(typed: str) -> None:
    with pytest.raises(TaskmasterError) as raised:
        jira_style_key(typed)
    assert raised.value.kind == ErrorKind.INVALID_INPUT
    assert raised.value.message.endswith("Keys look like TASK-101.")


@pytest.mark.parametrize(
    ("key", "branch"),
    [
        ("TASK-101", "taskmaster/TASK-101-fix-the-digest"),
        ("#12", "taskmaster/12-fix-the-digest"),
        ("acme/platform/app#12", "taskmaster/acme-platform-app-12-fix-the-digest"),
        ("my.group/app..x#3", "taskmaster/my-group-app-x-3-fix-the-digest"),
    ],
)
async def test_branch_name_from_any_key_is_a_valid_ref_without_hash_or_slash(
    key: str, branch: str
) -> None:
    made = branch_name(Ticket(key=key, title="Fix the digest!"))

    assert made == branch
    assert "#" not in made and made.count("/") == 1 and ".." not in made
    checked = await git("check-ref-format", "--branch", made)
    assert checked.strip() == made


def test_key_slug_of_nothing_safe_is_refused() -> None:
    with pytest.raises(TaskmasterError) as raised:
        key_slug("#/")
    assert raised.value.kind == ErrorKind.INVALID_INPUT
