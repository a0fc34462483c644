"""The second layer for secrets: any secret's value still found in text becomes `***`.

The sandbox keeps secrets away from the repository's code; this catches a value that
arrives anyway (a token a test suite found some other way, a credential inside a
URL) before it reaches the model, Slack, a log line or the database. It is applied
where outside text enters: test output and tool results (`agent.tools`), and every
log record (`install_log_redaction`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from pydantic import SecretStr

from agent.settings import Settings

MASK = "***"
# Shorter values are words ("true", "main"), not credentials; masking them would
# mangle ordinary text.
MIN_SECRET_LENGTH = 6

_SECRET_PARTS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "_PAT",
    "DSN",
)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential.

    By what it holds (TOKEN, PASSWORD...), not by service: GITHUB_REPOSITORY and
    JIRA_URL are not secrets, and masking them would mangle every file that names them.
    TaskMaster's own secret settings are known by type (`SecretStr`) anyway.
    """
    upper = name.upper()
    return any(part in upper for part in _SECRET_PARTS) or upper.endswith("_KEY")


def _url_password(value: str) -> str | None:
    """The password in `scheme://user:password@host`, if `value` is such a URL."""
    if "://" not in value or "@" not in value:
        return None
    try:
        return urlsplit(value).password
    except ValueError:
        return None


class Redactor:
    """Replaces every known secret value in a text with `***`, longest first."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH}
        self.secrets: tuple[str, ...] = tuple(sorted(unique, key=len, reverse=True))

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str]) -> Redactor:
        """Every secret setting, every secret-named variable, every password in a URL."""
        values = [
            value.get_secret_value()
            for value in settings.__dict__.values()
            if isinstance(value, SecretStr)
        ]
        for name, value in environ.items():
            if is_secret_name(name):
                values.append(value)
            if password := _url_password(value):
                values.append(password)
        return cls(values)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


_log_mask: Redactor | None = None


def install_log_redaction(redactor: Redactor) -> None:
    """Mask `redactor`'s secrets in every log record from now on, whoever logs it.

    A record factory rather than a handler filter: it covers handlers added later
    (Bolt's, a platform's) and records of every logger. Each call adds secrets.
    """
    global _log_mask
    installed = _log_mask is not None
    _log_mask = Redactor((*(_log_mask.secrets if _log_mask else ()), *redactor.secrets))
    if installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        mask = _log_mask
        if mask is None or not mask.secrets:
            return record
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # mismatched arguments: logging reports it later
            return record
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacting_record)
