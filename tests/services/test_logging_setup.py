from __future__ import annotations

import io
import json
import logging
import secrets as pysecrets
import string

import pytest

from services.infra.logging_setup import REDACTED, redact, secrets, setup_logging


def fake_bot_token() -> str:
    alphabet = string.ascii_letters + string.digits + "_-"
    return f"{pysecrets.randbelow(9 * 10**8) + 10**8}:" + "".join(
        pysecrets.choice(alphabet) for _ in range(35)
    )


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    setup_logging("DEBUG", "kv", ["configured-secret-value-42"], stream=stream)
    yield stream
    setup_logging("INFO", "kv", stream=io.StringIO())


@pytest.mark.parametrize(
    "secret",
    [
        fake_bot_token(),
        "0123456789abcdef0123456789abcdef",  # Telegram API hash shape
        "1" + "BvQ3x_" * 60,  # Telethon StringSession shape
        "sk_test_" + "a1B2c3D4e5" * 3,
        "whsec_" + "Zz09" * 8,
        "AKIA" + "ABCDEFGHIJKLMNOP",
    ],
)
def test_secret_shapes_are_redacted(secret: str) -> None:
    text = redact(f"before {secret} after")
    assert secret not in text and REDACTED in text and text.startswith("before")


def test_configured_secret_is_hidden_in_message_args_and_extras(captured: io.StringIO) -> None:
    log = logging.getLogger("meetmatt.test")
    log.info("token is %s", "configured-secret-value-42", extra={"detail": "x configured-secret-value-42"})
    out = captured.getvalue()
    assert "configured-secret-value-42" not in out
    assert out.count(REDACTED) == 2


def test_secret_in_a_logged_exception_traceback_is_hidden(captured: io.StringIO) -> None:
    token = fake_bot_token()
    secrets.add("runtime-added-secret-99")
    try:
        raise RuntimeError(f"bot {token} refused, key runtime-added-secret-99")
    except RuntimeError:
        logging.getLogger("meetmatt.test").exception("call failed")
    out = captured.getvalue()
    assert "Traceback" in out and "RuntimeError" in out
    assert token not in out and "runtime-added-secret-99" not in out


def test_json_format_is_one_object_per_line() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "json", stream=stream)
    logging.getLogger("meetmatt.test").info("hello", extra={"order_id": 7})
    record = json.loads(stream.getvalue().strip())
    assert record["msg"] == "hello" and record["order_id"] == 7 and record["level"] == "INFO"
    setup_logging("INFO", "kv", stream=io.StringIO())
