"""What the model is told. The rules here are also enforced by code where code can."""

from __future__ import annotations

from agent.models import TestResult, Ticket

SYSTEM = """\
You are TaskMaster, a careful software engineer working on one ticket in a git \
repository that has been cloned for you. You work only through the tools you are given.

Rules:
- Minimum scope: change only the modules the ticket needs. Do not refactor, rename or \
reformat code the ticket does not ask about.
- Never delete existing behaviour unless the ticket asks for it.
- Add or update tests with every change, next to the existing tests and in their style.
- Read before you edit: use read_file and search_code to find the code first.
- Run the tests with run_tests before you call finish, and fix what you broke.
- You cannot push, commit or open pull requests: a person reviews your change first.
{guide}"""

GUIDE = """
The repository describes itself (from {name}):
<repository-guide>
{text}
</repository-guide>
"""

PLAN = """\
Ticket {key}: {title}
Type: {type} | Priority: {priority} | Labels: {labels} | Components: {components}

{description}
{criteria}
Look at the repository layout below, then call submit_plan exactly once with a short \
summary, the modules you will touch (as few as the ticket needs) and the steps.

Repository files:
{files}"""

IMPLEMENT = """\
Your plan is recorded. Now implement it with the tools: list_files, read_file, \
search_code, write_file, edit_file, run_tests. When the change is complete and the \
tests pass, call finish with a summary of what you changed and why."""

TESTS_FAILED = """\
The tests fail after your change ({headline}). Fix the code (or the test, if the test \
is wrong), run the tests again, then call finish.

{tail}"""

REVISE = """\
The reviewer asked for changes (review {iteration}):

{feedback}

Make these changes, run the tests, then call finish again."""


PERSON_SAID = """\
{who} wrote to you while you work (a reply in the run's thread):

{text}

Take it into account from now on."""


def person_said(who: str, text: str) -> str:
    return PERSON_SAID.format(who=who, text=text.strip())


def system_prompt(guide_name: str | None, guide_text: str) -> str:
    guide = GUIDE.format(name=guide_name, text=guide_text.strip()) if guide_name else ""
    return SYSTEM.format(guide=guide)


def plan_prompt(ticket: Ticket, files: str) -> str:
    criteria = ""
    if ticket.acceptance_criteria:
        items = "\n".join(f"- {item}" for item in ticket.acceptance_criteria)
        criteria = f"\nAcceptance criteria:\n{items}\n"
    return PLAN.format(
        key=ticket.key,
        title=ticket.title,
        type=ticket.type or "-",
        priority=ticket.priority or "-",
        labels=", ".join(ticket.labels) or "-",
        components=", ".join(ticket.components) or "-",
        description=ticket.description.strip() or "(no description)",
        criteria=criteria,
        files=files,
    )


def tests_failed_prompt(result: TestResult) -> str:
    return TESTS_FAILED.format(headline=result.headline, tail=result.output_tail[-6000:])


def revise_prompt(iteration: int, feedback: str) -> str:
    return REVISE.format(iteration=iteration, feedback=feedback.strip() or "(no details given)")
