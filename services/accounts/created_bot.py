"""What making a customer's bot yields, whichever way it was made: by a creator account through
@BotFather (`account_id` set) or by Telegram as a managed bot (`account_id` None)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CreatedBot:
    username: str
    token: str
    account_id: int | None
    warnings: list[str] = field(default_factory=list)  # customisation steps BotFather did not confirm
