from __future__ import annotations

from datetime import timedelta

import pytest

from services.jobs.queue import utcnow
from services.orders.validation import validate_username
from services.provisioning.bot_making import username_candidates
from services.provisioning.verification import MAX_ATTEMPTS, StartOutcome, deep_link, judge_start, new_code

NOW = utcnow()
LATER = NOW + timedelta(hours=1)
CODE = "AbC_123-xyz"


OWNER, STRANGER = 111, 999


@pytest.mark.parametrize(
    ("text", "sender", "attempts", "expires_at", "foreign", "expected"),
    [
        (f"/start {CODE}", OWNER, 0, LATER, False, StartOutcome.VERIFIED),
        (f"  /start   {CODE}  ", OWNER, 0, LATER, False, StartOutcome.VERIFIED),
        (f"/start@some_bot {CODE}", OWNER, 0, LATER, False, StartOutcome.VERIFIED),
        (f"/start {CODE}", STRANGER, 0, LATER, False, StartOutcome.NOT_THE_OWNER),
        (f"/start {CODE}x", OWNER, 0, LATER, False, StartOutcome.WRONG_CODE),
        (f"/start {CODE}x", STRANGER, 0, LATER, False, StartOutcome.WRONG_CODE),
        ("/start other_orders_code", STRANGER, 0, LATER, True, StartOutcome.FOREIGN_CODE),
        ("/start", STRANGER, 0, LATER, False, StartOutcome.NO_CODE),
        ("/start", STRANGER, MAX_ATTEMPTS, LATER, False, StartOutcome.NO_CODE),
        ("hello", OWNER, 0, LATER, False, StartOutcome.NOT_A_START),
        ("", OWNER, 0, LATER, False, StartOutcome.NOT_A_START),
        (f"/start {CODE}", OWNER, 0, NOW, False, StartOutcome.EXPIRED),
        (f"/start {CODE}x", STRANGER, MAX_ATTEMPTS, LATER, False, StartOutcome.EXHAUSTED),
        # the limit is the sender's own: a stranger's wrong codes never lock the owner out
        (f"/start {CODE}", OWNER, 0, LATER, False, StartOutcome.VERIFIED),
    ],
)
def test_judge_start(
    text: str, sender: int, attempts: int, expires_at, foreign: bool, expected: StartOutcome
) -> None:
    assert (
        judge_start(
            text,
            CODE,
            sender_id=sender,
            owner_id=OWNER,
            sender_attempts=attempts,
            expires_at=expires_at,
            now=NOW,
            foreign=foreign,
        )
        == expected
    )


def test_codes_fit_a_deep_link_and_do_not_repeat() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) <= 64 and all(c.isalnum() or c in "_-" for c in code)
    assert deep_link("tom_helper_bot", "abc") == "https://t.me/tom_helper_bot?start=abc"


@pytest.mark.parametrize("wanted", ["tom_helper_bot", "TomBot", None, "a" * 29 + "bot"])
def test_username_candidates_are_valid_distinct_and_start_with_the_wish(wanted: str | None) -> None:
    candidates = username_candidates(wanted, 4242)
    assert len(candidates) == len(set(candidates)) >= 4
    if wanted:
        assert candidates[0] == wanted
    for candidate in candidates:
        assert validate_username(candidate).ok, candidate


def test_waiting_jobs_rest_longer_as_the_link_ages() -> None:
    from services.provisioning.saga import verification_pause

    assert verification_pause(timedelta(minutes=1)) == timedelta(seconds=1)
    assert verification_pause(timedelta(minutes=30)) == timedelta(seconds=15)
    assert verification_pause(timedelta(hours=5)) == timedelta(seconds=60)
