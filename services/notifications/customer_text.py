"""A customer message not yet in a language: an English msgid and its params.

The worker writes messages for customers (notices, reminders) but services never import the bot,
so they cannot translate. They build a `Text` instead: the msgid is marked with `N_()` (so
`pybabel extract` puts it in the bot's catalogue) and the bot's Messenger renders it in the
customer's language when it sends. Rendering HTML-escapes every plain param; a param that is itself
a `Text` is rendered first (in the same language) and inserted as is. `english()` is the same
rendering without a catalogue (logs, tests, a bot without translations).

A `Text` travels in a job's JSON payload as {"msgid": ..., "params": {...}} (`to_payload` /
`from_payload`).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Marks a msgid for the bot's catalogue; the bot translates it when it renders."""
    return message


@dataclass(frozen=True)
class Text:
    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, translate: Callable[[str], str], *, escape: bool = True) -> str:
        """The HTML text with `translate` (a gettext) applied to this msgid and every nested one.
        `escape=False` for a button label, which Telegram shows as plain text."""
        values = {
            key: value.render(translate, escape=escape)
            if isinstance(value, Text)
            else html.escape(str(value), quote=False)
            if escape
            else str(value)
            for key, value in self.params.items()
        }
        return translate(self.msgid).format(**values)

    def english(self, *, escape: bool = True) -> str:
        return self.render(lambda message: message, escape=escape)

    def to_payload(self) -> dict[str, Any]:
        return {
            "msgid": self.msgid,
            "params": {k: v.to_payload() if isinstance(v, Text) else v for k, v in self.params.items()},
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Text:
        params = {
            k: cls.from_payload(v) if isinstance(v, Mapping) else v
            for k, v in (data.get("params") or {}).items()
        }
        return cls(str(data["msgid"]), params)


def plain(value: str | Text, *, escape: bool = True) -> str:
    """English for logs and tests: a `Text` rendered without a catalogue, a str as it is."""
    return value.english(escape=escape) if isinstance(value, Text) else value


def encode(value: str | Text) -> Any:
    """For a job payload: a str stays a str (already rendered HTML), a Text becomes a dict."""
    return value.to_payload() if isinstance(value, Text) else value


def decode(value: Any) -> str | Text:
    return Text.from_payload(value) if isinstance(value, Mapping) else str(value)
