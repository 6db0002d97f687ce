"""HTML escaping and the formats every text module shares (dates, token counts)."""

from __future__ import annotations

import html
from datetime import datetime


def esc(value: object) -> str:
    return html.escape(str(value if value is not None else ""), quote=False)


def esc_clipped(value: object, limit: int) -> str:
    """`value` cut to `limit` characters (an ellipsis marks the cut) and THEN escaped: cutting the
    escaped text could split an entity (`&am`) and Telegram would refuse the whole message."""
    text = str(value if value is not None else "")
    return esc(text if len(text) <= limit else text[: limit - 1] + "…")


def date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def tokens(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n / 1e3:.1f}k" if n >= 1_000 else str(n)
