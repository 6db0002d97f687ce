"""The one rule for a creator account's phone number and API hash (my.telegram.org), shared by
`accounts login`, `check-config` and the import from the environment, so the three cannot disagree."""

from __future__ import annotations

import re

_PHONE = re.compile(r"\+?\d{7,15}")
_API_HASH = re.compile(r"[0-9a-f]{32}")


def normalise_phone(text: str) -> str | None:
    """`+` and 7 to 15 digits (spaces, brackets and dashes dropped); None when it is not a phone number."""
    phone = re.sub(r"[\s()-]", "", text)
    if not _PHONE.fullmatch(phone):
        return None
    return phone if phone.startswith("+") else f"+{phone}"


def normalise_api_hash(text: str) -> str | None:
    """The API hash in lower case; None unless it is 32 hexadecimal characters (in either case)."""
    api_hash = text.strip().lower()
    return api_hash if _API_HASH.fullmatch(api_hash) else None
