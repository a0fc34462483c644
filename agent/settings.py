"""Settings, read once at the entry point and passed down.

Nothing in `agent` or `bot` reads `os.environ` on its own: the entry point calls
`load_dotenv()` (so provider keys in `.env` reach the model libraries too), then
`load_settings()`, and hands the object to whoever needs it.
Which settings are required depends on what is started, so every field is optional
here and each surface calls `require()` for the ones it cannot do without.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_GITLAB_URL = "https://gitlab.com"

CodeHostName = Literal["github", "gitlab", "local"]
# A GitLab project: its numeric id, or its full path (`group/subgroup/name`).
_GITLAB_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class SettingsError(Exception):
    """A missing or malformed setting; its message is one line that says what to fix."""


class Settings(BaseModel):
    """Every setting, by its environment name (.env.example lists them)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(DEFAULT_SLACK_API_URL, alias="SLACK_API_URL")
    slack_review_group: str | None = Field(
        None, alias="SLACK_REVIEW_GROUP", pattern=r"^S[A-Z0-9]+$"
    )
    # Slack's agent surface (streams, a session with Stop, code channels) or a plain thread.
    slack_surface: Literal["thread", "agent"] = Field("thread", alias="TASKMASTER_SLACK_SURFACE")
    slack_code_channels: bool = Field(False, alias="TASKMASTER_SLACK_CODE_CHANNELS")
    port: int = Field(3000, alias="PORT", ge=1, le=65535)

    model: str | None = Field(None, alias="TASKMASTER_MODEL")
    repo: str | None = Field(None, alias="TASKMASTER_REPO")
    tickets: str | None = Field(None, alias="TASKMASTER_TICKETS")
    # Unset: `github` when GITHUB_REPOSITORY is set, else `local` (how it was before the choice).
    code_host: CodeHostName | None = Field(None, alias="TASKMASTER_CODE_HOST")

    jira_url: str | None = Field(None, alias="JIRA_URL")
    jira_email: str | None = Field(None, alias="JIRA_EMAIL")
    jira_api_token: SecretStr | None = Field(None, alias="JIRA_API_TOKEN")
    jira_transition: str | None = Field(None, alias="JIRA_TRANSITION")
    jira_acceptance_field: str | None = Field(None, alias="JIRA_ACCEPTANCE_FIELD")

    github_repository: str | None = Field(None, alias="GITHUB_REPOSITORY")
    github_token: SecretStr | None = Field(None, alias="GITHUB_TOKEN")
    github_api_url: str = Field(DEFAULT_GITHUB_API_URL, alias="GITHUB_API_URL")
    github_draft: bool = Field(False, alias="GITHUB_DRAFT")

    gitlab_url: str = Field(DEFAULT_GITLAB_URL, alias="GITLAB_URL")
    gitlab_project: str | None = Field(None, alias="GITLAB_PROJECT")
    gitlab_token: SecretStr | None = Field(None, alias="GITLAB_TOKEN")
    gitlab_done_labels: tuple[str, ...] = Field((), alias="GITLAB_DONE_LABELS")
    gitlab_draft: bool = Field(False, alias="GITLAB_DRAFT")

    data_dir: Path = Field(Path(".taskmaster"), alias="TASKMASTER_DATA_DIR")
    # Unset: one SQLite file in the data folder (one process). `postgresql://...`: the
    # checkpoints, the registry, the Slack threads and the queue in PostgreSQL.
    database_url: SecretStr | None = Field(None, alias="TASKMASTER_DATABASE_URL")
    # Seconds without a worker's heartbeat after which its jobs go to another worker:
    # a killed worker's run moves again within 5/3 of this at worst.
    worker_timeout: float = Field(30.0, alias="TASKMASTER_WORKER_TIMEOUT", ge=3)
    approvers: frozenset[str] = Field(frozenset(), alias="TASKMASTER_APPROVERS")
    max_runs: int = Field(2, alias="TASKMASTER_MAX_RUNS", ge=1)
    max_revisions: int = Field(3, alias="TASKMASTER_MAX_REVISIONS", ge=0)
    max_test_fixes: int = Field(2, alias="TASKMASTER_MAX_TEST_FIXES", ge=0)
    test_command: str | None = Field(None, alias="TASKMASTER_TEST_COMMAND")
    test_timeout: float = Field(600.0, alias="TASKMASTER_TEST_TIMEOUT", gt=0)
    max_steps: int = Field(60, alias="TASKMASTER_MAX_STEPS", ge=1)
    # Size limits: the largest file the model may write (bytes), and the ticket text
    # a run keeps (characters): beyond them the model or the ticket is told so.
    max_file_bytes: int = Field(4_000_000, alias="TASKMASTER_MAX_FILE_BYTES", ge=1)
    max_ticket_chars: int = Field(50_000, alias="TASKMASTER_MAX_TICKET_CHARS", ge=1000)
    max_review_diff_bytes: int = Field(
        2_000_000, alias="TASKMASTER_MAX_REVIEW_DIFF_BYTES", ge=10_000
    )
    # What a run may spend, and how long one model call or rate-limit wait may take.
    max_tokens: int = Field(5_000_000, alias="TASKMASTER_MAX_TOKENS", ge=1)
    max_minutes: float = Field(60.0, alias="TASKMASTER_MAX_MINUTES", gt=0)
    context_tokens: int = Field(150_000, alias="TASKMASTER_CONTEXT_TOKENS", ge=1000)
    model_timeout: float = Field(300.0, alias="TASKMASTER_MODEL_TIMEOUT", gt=0)
    model_retries: int = Field(2, alias="TASKMASTER_MODEL_RETRIES", ge=0, le=10)
    rate_limit_wait: float = Field(120.0, alias="TASKMASTER_RATE_LIMIT_WAIT", ge=0)

    sandbox: Literal["bwrap", "off"] = Field("bwrap", alias="TASKMASTER_SANDBOX")
    sandbox_network: bool = Field(False, alias="TASKMASTER_SANDBOX_NETWORK")
    sandbox_processes: int = Field(512, alias="TASKMASTER_SANDBOX_PROCESSES", ge=16)
    sandbox_memory_mb: int = Field(2048, alias="TASKMASTER_SANDBOX_MEMORY_MB", ge=64)
    sandbox_file_mb: int = Field(1024, alias="TASKMASTER_SANDBOX_FILE_MB", ge=1)
    sandbox_mounts: tuple[Path, ...] = Field((), alias="TASKMASTER_SANDBOX_MOUNTS")

    @field_validator("approvers", mode="before")
    @classmethod
    def _split_approvers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("sandbox_mounts", mode="before")
    @classmethod
    def _split_mounts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(Path(part).expanduser() for part in value.split(os.pathsep) if part)
        return value

    @field_validator("sandbox_mounts")
    @classmethod
    def _absolute_mounts(cls, value: tuple[Path, ...]) -> tuple[Path, ...]:
        for path in value:
            if not path.is_absolute():
                raise ValueError(f"{path} is not an absolute path")
        return value

    @field_validator("gitlab_done_labels", mode="before")
    @classmethod
    def _split_labels(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("code_host", mode="before")
    @classmethod
    def _lower_code_host(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("gitlab_url")
    @classmethod
    def _gitlab_base(cls, value: str) -> str:
        # People paste the API's URL as often as the instance's; both mean the instance.
        value = value.strip().rstrip("/").removesuffix("/api/v4")
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be the instance's URL, like https://gitlab.example.com")
        return value

    @field_validator("gitlab_project")
    @classmethod
    def _gitlab_project(cls, value: str | None) -> str | None:
        if value is None or value.isdigit():
            return value
        parts = value.strip("/").split("/")
        if len(parts) < 2 or not all(_GITLAB_SEGMENT.match(part) for part in parts):
            raise ValueError("must be a numeric project id or a path like group/subgroup/name")
        return "/".join(parts)

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins base URL and method name by plain concatenation.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("must be a postgresql:// URL (unset, runs are kept in SQLite)")
        return value

    @field_validator("github_repository")
    @classmethod
    def _owner_name(cls, value: str | None) -> str | None:
        if value is not None and value.count("/") != 1:
            raise ValueError("must look like owner/name")
        return value

    def require(self, *names: str) -> None:
        """Stop with one line naming the first of `names` (environment names) that is unset."""
        by_alias = {field.alias: name for name, field in type(self).model_fields.items()}
        for env_name in names:
            if getattr(self, by_alias[env_name]) in (None, ""):
                raise SettingsError(f"{env_name} is not set: add it to .env (see .env.example)")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "taskmaster.db"

    @property
    def database(self) -> Literal["sqlite", "postgres"]:
        """Which database holds the runs: TASKMASTER_DATABASE_URL's kind, SQLite when unset."""
        if self.database_url is None:
            return "sqlite"
        return "postgres"

    @property
    def database_url_text(self) -> str:
        """TASKMASTER_DATABASE_URL itself, for the one place that connects with it."""
        return self.database_url.get_secret_value() if self.database_url else ""

    @property
    def code_host_name(self) -> CodeHostName:
        """TASKMASTER_CODE_HOST, or what an unset one always meant: GitHub when configured."""
        if self.code_host is not None:
            return self.code_host
        return "github" if self.github_repository else "local"


def load_settings(
    environ: Mapping[str, str],
    *,
    env_file: Path | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> Settings:
    """Build settings from `env_file` (if given and present), overlaid by `environ`,
    then `overrides` (where None unsets a setting).

    Empty values count as unset. A malformed value raises `SettingsError` with one line.
    """
    values: dict[str, Any] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(environ)
    values = {k: v for k, v in values.items() if v != ""}
    values.update(overrides or {})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"])
        raise SettingsError(f"{name} is invalid: {error['msg']}") from None
