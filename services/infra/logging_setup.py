"""One logging setup for the whole app: structured lines and a secret-redacting filter installed first.

The filter rewrites every record before any handler formats it: the message, its arguments, extra
fields and the formatted exception/traceback. It hides every configured secret value and anything
shaped like a bot token, Telegram API hash, Telethon string session, Stripe or AWS key.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

REDACTED = "[REDACTED]"

SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}"),  # Telegram bot token
    re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{32}(?![0-9a-fA-F])"),  # Telegram API hash (32 hex)
    re.compile(r"\b1[A-Za-z0-9_+/=-]{200,}"),  # Telethon StringSession
    re.compile(r"\b(?:sk|rk|pk|whsec)_(?:test_|live_)?[A-Za-z0-9]{8,}"),  # Stripe keys and secrets
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}"),  # Fernet tokens (encrypted columns)
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
)

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class SecretRegistry:
    """The set of exact secret values to hide, grown at run time (e.g. a new bot's token)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if value and len(value) >= 6:
                    self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        for shape in SECRET_PATTERNS:
            text = shape.sub(REDACTED, text)
        return text


secrets = SecretRegistry()


def redact(text: str) -> str:
    """Hide every known secret and secret-shaped string in `text`."""
    return secrets.redact(text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


def _kv_value(value: object) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (not text or re.search(r'[\s="]', text)) else text


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=… logger=… msg="…" key=value …`"""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        parts = [
            f"ts={ts}",
            f"level={record.levelname}",
            f"logger={record.name}",
            f"msg={_kv_value(record.getMessage())}",
        ]
        parts += [f"{k}={_kv_value(v)}" for k, v in _extras(record).items()]
        line = " ".join(parts)
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update(
            {k: v if isinstance(v, int | float | bool | None) else str(v) for k, v in _extras(record).items()}
        )
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


def setup_logging(
    level: str = "INFO", fmt: str = "kv", secret_values: Iterable[str] = (), stream=None
) -> logging.Handler:
    """Configure the root logger once: one handler, the redacting filter first, then the formatter."""
    secrets.add(*secret_values)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in (
        "aiosqlite",
        "asyncio",
        "botocore",
        "aiobotocore",
        "urllib3",
        "asyncssh",
        "telethon",
        "werkzeug",
        "tortoise",
        "stripe",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
