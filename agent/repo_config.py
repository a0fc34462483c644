"""What a repository says about itself in `.taskmaster.md`: how to set it up and test it.

```
Setup command: python -m venv .venv && .venv/bin/pip install -e .
Test command: .venv/bin/python -m pytest -q
Environment: NODE_ENV=test TZ=UTC
```

Each line may be a list item or bold ("**Test command:**"). The setup command runs once
per workspace and the test command after every change, both in the sandbox; the
environment's variables are added to the sandbox's allowlisted environment. Without a
test command, the setting TASKMASTER_TEST_COMMAND or the project's layout decides.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

TASKMASTER_FILE = ".taskmaster.md"
PYTEST_COMMAND = "python -m pytest -q"

_LABELLED_LINE = (
    r"^\s*(?:[-*+]\s+)?(?:\*\*|__)?{label}(?:\*\*|__)?\s*:"
    r"\s*(?:\*\*|__)?\s*(?P<value>.+?)\s*$"
)
_TEST_COMMAND = re.compile(_LABELLED_LINE.format(label="test command"), re.I | re.M)
_SETUP_COMMAND = re.compile(_LABELLED_LINE.format(label="setup command"), re.I | re.M)
_ENVIRONMENT = re.compile(_LABELLED_LINE.format(label="environment"), re.I | re.M)
_VARIABLE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.S)
_MAKE_TEST_TARGET = re.compile(r"^test\s*:(?!=)", re.MULTILINE)
_NPM_PLACEHOLDER = "no test specified"  # what `npm init` writes as the test script


@dataclass(frozen=True)
class RepoConfig:
    test_command: str | None = None
    setup_command: str | None = None
    environment: dict[str, str] = field(default_factory=dict)


def _read(repo: Path) -> str:
    try:
        return (repo / TASKMASTER_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _command(pattern: re.Pattern[str], text: str) -> str | None:
    for match in pattern.finditer(text):
        command = match["value"]
        if len(command) >= 2 and command.startswith("`") and command.endswith("`"):
            command = command.strip("`").strip()
        if command:
            return command
    return None


def _environment(text: str) -> dict[str, str]:
    variables: dict[str, str] = {}
    for match in _ENVIRONMENT.finditer(text):
        value = match["value"].strip("`").strip()
        try:
            words = shlex.split(value)
        except ValueError:
            continue
        for word in words:
            if variable := _VARIABLE.match(word):
                variables[variable["name"]] = variable["value"]
    return variables


def read_repo_config(repo: Path, configured_test_command: str | None = None) -> RepoConfig:
    """The repository's setup, test command and variables, as `.taskmaster.md` gives them."""
    text = _read(repo)
    return RepoConfig(
        test_command=test_command_for(repo, configured_test_command, text),
        setup_command=_command(_SETUP_COMMAND, text),
        environment=_environment(text),
    )


def _is_pytest_project(repo: Path) -> bool:
    markers = ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini")
    if any((repo / name).is_file() for name in markers):
        return True
    tests = repo / "tests"
    return tests.is_dir() and next(tests.rglob("*.py"), None) is not None


def _has_npm_test(repo: Path) -> bool:
    try:
        package = json.loads((repo / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    scripts = package.get("scripts") if isinstance(package, dict) else None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    return isinstance(test, str) and bool(test.strip()) and _NPM_PLACEHOLDER not in test


def _has_make_test(repo: Path) -> bool:
    for name in ("GNUmakefile", "makefile", "Makefile"):
        try:
            text = (repo / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        return _MAKE_TEST_TARGET.search(text) is not None
    return False


def test_command_for(repo: Path, configured: str | None, text: str | None = None) -> str | None:
    """The repository's test command: `.taskmaster.md`, else the setting, else detected."""
    from_file = _command(_TEST_COMMAND, _read(repo) if text is None else text)
    if from_file:
        return from_file
    if configured and configured.strip():
        return configured.strip()
    if _is_pytest_project(repo):
        return PYTEST_COMMAND
    if _has_npm_test(repo):
        return "npm test"
    if (repo / "go.mod").is_file():
        return "go test ./..."
    if (repo / "Cargo.toml").is_file():
        return "cargo test"
    if _has_make_test(repo):
        return "make test"
    return None


test_command_for.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
