"""The second layer for secrets: a value that slips past the sandbox becomes `***`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.redaction import Redactor, install_log_redaction
from agent.settings import load_settings
from agent.tools.toolset import ToolContext, execute
from agent.tools.workspace import Workspace


def test_every_secret_setting_variable_and_url_password_is_masked() -> None:
    settings = load_settings(
        {"GITHUB_TOKEN": "ghp-canary-1111", "SLACK_SIGNING_SECRET": "signing-canary-2222"}
    )
    environ = {
        "DATABASE_URL": "postgresql://app:url-canary-3333@db/app",
        "GH_PAT": "pat-canary-4444",
        "ANTHROPIC_API_KEY": "sk-ant-canary-5555",
        "EDITOR": "vim-not-a-secret",
        "GITHUB_REPOSITORY": "acme/billing",
        "JIRA_URL": "https://acme.atlassian.net",
    }
    redact = Redactor.from_settings(settings, environ)
    text = (
        "ghp-canary-1111 signing-canary-2222 url-canary-3333 pat-canary-4444 "
        "sk-ant-canary-5555 vim-not-a-secret acme/billing https://acme.atlassian.net"
    )
    assert redact(text) == (
        "*** *** *** *** *** vim-not-a-secret acme/billing https://acme.atlassian.net"
    )


def test_short_values_are_not_treated_as_secrets() -> None:
    assert Redactor(["true", "abc"])("true abc") == "true abc"


async def test_a_tool_result_never_carries_a_secret(tmp_path: Path, ctx: ToolContext) -> None:
    (ctx.workspace.root / "config.py").write_text("TOKEN = 'ghp-canary-1111'\n")
    redacting = ToolContext(
        workspace=Workspace(ctx.workspace.root),
        test_command="cat config.py",
        sandbox=ctx.sandbox,
        test_timeout=30,
        redact=Redactor(["ghp-canary-1111"]),
    )
    read = await execute("read_file", {"path": "config.py"}, redacting)
    tests = await execute("run_tests", {}, redacting)
    searched = await execute("search_code", {"pattern": "canary"}, redacting)
    for outcome in (read, tests, searched):
        assert "ghp-canary-1111" not in outcome.content
        assert "***" in outcome.content
    assert tests.test_result is not None
    assert "ghp-canary-1111" not in tests.test_result.output_tail


def test_log_records_are_masked_whoever_logs_them(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction(Redactor(["log-canary-6666"]))
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO):
        logger.info("token is %s", "log-canary-6666")
        try:
            raise RuntimeError("failed with log-canary-6666")
        except RuntimeError:
            logger.exception("call failed")
    assert "log-canary-6666" not in caplog.text
    assert "token is ***" in caplog.text
    assert "failed with ***" in caplog.text
