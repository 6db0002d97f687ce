"""The errors whose message tells the operator what to do: `main.py` prints them on one line of stderr,
without a traceback, and exits 1. Everything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys

# (module, class). OperatorError is the base to raise in new code (LoginError, DatabaseNotMigrated and
# PlatformKeyMismatch are ones); the others cannot derive from it: models must not import services, and
# bot/ and services/cloud keep their own error types.
KNOWN = (
    ("services.infra.operator_errors", "OperatorError"),
    ("services.operations.audit", "OperationError"),  # an admin action refused, in plain words
    ("models.fields", "EncryptionKeyError"),
    ("bot.factory", "BotConfigError"),
    ("services.cloud.activation", "GatewayUrlMissing"),
)


def is_operator_error(exc: BaseException) -> bool:
    """Whether `exc` is one of KNOWN. A class whose module was never imported cannot have been raised,
    so this looks in sys.modules and imports nothing (bot.factory alone would load aiogram)."""
    for module_name, class_name in KNOWN:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return True
    return False


def one_line(exc: BaseException) -> str:
    """The error's message on one line, every configured secret and secret-shaped string hidden (the
    messages are written without secrets; this is the second lock)."""
    from services.infra.logging_setup import redact

    return redact(" ".join(str(exc).split())) or type(exc).__name__
