"""What a repository says about itself: `.taskmaster.md`'s commands and variables,
and the test command detected from the project's layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import repo_config
from agent.repo_config import read_repo_config


def test_setup_command_and_environment_are_read(tmp_path: Path) -> None:
    (tmp_path / ".taskmaster.md").write_text(
        "# Notes\n\n"
        "- **Setup command:** `python -m venv .venv && .venv/bin/pip install -e .`\n"
        "- Test command: .venv/bin/python -m pytest -q\n"
        "- Environment: `NODE_ENV=test TZ=UTC GREETING='hello world' not-a-variable`\n"
    )
    config = read_repo_config(tmp_path)
    assert config.setup_command == "python -m venv .venv && .venv/bin/pip install -e ."
    assert config.test_command == ".venv/bin/python -m pytest -q"
    assert config.environment == {"NODE_ENV": "test", "TZ": "UTC", "GREETING": "hello world"}


def test_a_repository_without_notes_has_no_setup(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    config = read_repo_config(tmp_path)
    assert config.setup_command is None
    assert config.environment == {}
    assert config.test_command == "python -m pytest -q"


def test_test_command_for_prefers_taskmaster_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / ".taskmaster.md").write_text(
        "# Rules\n\n- Keep it small.\n\nTest command: `make check`\n"
    )
    assert repo_config.test_command_for(tmp_path, "tox -q") == "make check"


def test_test_command_for_reads_bold_markdown(tmp_path: Path) -> None:
    (tmp_path / ".taskmaster.md").write_text("- **Test command:** ``pytest -x``\n")
    assert repo_config.test_command_for(tmp_path, None) == "pytest -x"


def test_test_command_for_uses_setting_before_detection(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / ".taskmaster.md").write_text("# No command here\n")
    assert repo_config.test_command_for(tmp_path, "tox -q") == "tox -q"
    assert repo_config.test_command_for(tmp_path, "  ") == "python -m pytest -q"


@pytest.mark.parametrize(
    ("files", "command"),
    [
        ({"pyproject.toml": "[project]\n"}, "python -m pytest -q"),
        ({"tests/unit/test_a.py": "def test_a(): pass\n"}, "python -m pytest -q"),
        ({"package.json": '{"scripts": {"test": "jest"}}'}, "npm test"),
        ({"go.mod": "module example.com/x\n"}, "go test ./..."),
        ({"Cargo.toml": "[package]\n"}, "cargo test"),
        ({"Makefile": "build:\n\tcc x.c\n\ntest: build\n\t./x\n"}, "make test"),
        (
            {"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\""}}'},
            None,
        ),
        ({"Makefile": "TEST := 1\ntest := 2\nbuild:\n\tcc x.c\n"}, None),
        ({"README.md": "# Nothing to run\n"}, None),
    ],
)
def test_test_command_for_detects(tmp_path: Path, files: dict[str, str], command: str) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert repo_config.test_command_for(tmp_path, None) == command
