"""Pure validators for what a customer types in the order dialogue, and username suggestions.

Each validator returns a `Checked`: the cleaned value, or a specific reason the input was refused.
Reasons are plain text (the bot escapes them before sending). Nothing here knows aiogram.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

NAME_MAX = 64
USERNAME_MIN, USERNAME_MAX = 5, 32
DESCRIPTION_MAX = 512
PERSONA_NAME_MAX = 32
PERSONA_PROMPT_MAX = 1000
AVATAR_MIN_SIDE = 150  # px; Telegram shows bot pictures at 160 px and up
AVATAR_MAX_SIDE = 10_000
AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_MAX_RATIO = 3.0

_USERNAME_CHARS = re.compile(r"[A-Za-z0-9_]")
_ZWJ = "\u200d"
_VARIATION_SELECTORS = {"\ufe0e", "\ufe0f"}


def N_(message: str) -> str:  # noqa: N802
    """Marks a reason template for the bot's translation catalogue (the bot translates it)."""
    return message


@dataclass(frozen=True)
class Checked:
    """The outcome of a validator: `ok` with the cleaned `value`, or a `problem` to show.

    `problem` is an English template (a catalogue msgid) and `params` fill it, so the bot can show
    the reason in the customer's language; `reason` is the English text.
    """

    value: str = ""
    problem: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def reason(self) -> str | None:
        return self.problem.format(**self.params) if self.problem else None


def _char_label(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def _is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF


def hidden_characters(text: str, *, allow_newlines: bool = False) -> list[str]:
    """Control, invisible and direction-override characters in `text`, as labels (first five).

    A zero-width joiner between two emoji is allowed: it glues emoji sequences such as 👩‍💻.
    """
    found: list[str] = []
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if allow_newlines and ch == "\n":
            continue
        if ch == _ZWJ and 0 < i < len(text) - 1:
            before, after = text[i - 1], text[i + 1]
            if before in _VARIATION_SELECTORS and i > 1:
                before = text[i - 2]
            if _is_emoji(before) and _is_emoji(after):
                continue
        if category in {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}:
            label = _char_label(ch)
            if label not in found:
                found.append(label)
    return found[:5]


_HIDDEN = {
    "name": N_(
        "The name contains invisible or control characters ({chars}). Please type it again without them."
    ),
    "username": N_(
        "The username contains invisible or control characters ({chars}). Please type it again without them."
    ),
    "description": N_(
        "The description contains invisible or control characters ({chars}). "
        "Please type it again without them."
    ),
    "persona": N_(
        "The persona contains invisible or control characters ({chars}). Please type it again without them."
    ),
}


def _hidden_problem(text: str, what: str, *, allow_newlines: bool = False) -> Checked | None:
    hidden = hidden_characters(text, allow_newlines=allow_newlines)
    if not hidden:
        return None
    return Checked(problem=_HIDDEN[what], params={"chars": ", ".join(hidden)})


def validate_display_name(raw: str | None) -> Checked:
    """Bot display name: 1-64 characters, no control or invisible characters."""
    text = (raw or "").strip()
    if not text:
        return Checked(problem=N_("The name is empty. Please send 1 to 64 characters."))
    if len(text) > NAME_MAX:
        return Checked(
            problem=N_("The name is {length} characters long; the limit is {limit}."),
            params={"length": len(text), "limit": NAME_MAX},
        )
    if problem := _hidden_problem(text, "name"):
        return problem
    return Checked(value=text)


def validate_username(raw: str | None) -> Checked:
    """Bot username: 5-32 of [A-Za-z0-9_], starts with a letter, ends with "bot" (any case)."""
    text = (raw or "").strip()
    for prefix in ("https://t.me/", "http://t.me/", "t.me/", "@"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    if not text:
        return Checked(problem=N_("The username is empty. Please send something like my_helper_bot."))
    if problem := _hidden_problem(text, "username"):
        return problem
    bad = sorted({ch for ch in text if not _USERNAME_CHARS.fullmatch(ch)})
    if bad:
        shown = " ".join(repr(ch) if ch.isprintable() else _char_label(ch) for ch in bad[:5])
        return Checked(
            problem=N_("A username may only use Latin letters, digits and underscores; it contains {shown}."),
            params={"shown": shown},
        )
    if len(text) < USERNAME_MIN:
        return Checked(
            problem=N_("The username is {length} characters long; it needs at least {minimum}."),
            params={"length": len(text), "minimum": USERNAME_MIN},
        )
    if len(text) > USERNAME_MAX:
        return Checked(
            problem=N_("The username is {length} characters long; the limit is {limit}."),
            params={"length": len(text), "limit": USERNAME_MAX},
        )
    if not text[0].isascii() or not text[0].isalpha():
        return Checked(problem=N_("A username must start with a letter."))
    if not text.lower().endswith("bot"):
        return Checked(problem=N_("A bot's username must end with “bot”, e.g. tom_helper_bot."))
    return Checked(value=text)


def validate_description(raw: str | None) -> Checked:
    """Short description: up to 512 characters; line breaks allowed, other control characters not."""
    text = (raw or "").strip()
    if len(text) > DESCRIPTION_MAX:
        return Checked(
            problem=N_("The description is {length} characters long; the limit is {limit}."),
            params={"length": len(text), "limit": DESCRIPTION_MAX},
        )
    if problem := _hidden_problem(text, "description", allow_newlines=True):
        return problem
    return Checked(value=text)


def validate_persona(raw: str | None) -> tuple[Checked, Checked]:
    """A persona as one message: the first line is the agent's name (1-32 characters), the rest
    its instructions (up to 1,000 characters, line breaks allowed). Returns (name, instructions);
    the first one refused carries the reason."""
    text = (raw or "").strip()
    if problem := _hidden_problem(text, "persona", allow_newlines=True):
        return problem, Checked()
    name, _, prompt = text.partition("\n")
    name, prompt = name.strip(), prompt.strip()
    if not name:
        return Checked(
            problem=N_(
                "The persona is empty. Send the agent's name on the first line and "
                "how it should behave below."
            )
        ), Checked()
    if len(name) > PERSONA_NAME_MAX:
        return Checked(
            problem=N_("The name (first line) is {length} characters long; the limit is {limit}."),
            params={"length": len(name), "limit": PERSONA_NAME_MAX},
        ), Checked()
    if len(prompt) > PERSONA_PROMPT_MAX:
        return Checked(value=name), Checked(
            problem=N_("The instructions are {length} characters long; the limit is {limit}."),
            params={"length": len(prompt), "limit": PERSONA_PROMPT_MAX},
        )
    return Checked(value=name), Checked(value=prompt)


def validate_avatar(width: int, height: int, file_size: int | None) -> Checked:
    """A photo of sane size: each side 150-10,000 px, at most 5 MB, no more than 3:1."""
    if min(width, height) < AVATAR_MIN_SIDE:
        return Checked(
            problem=N_("The photo is {width}×{height} px; it needs at least {side}×{side} px."),
            params={"width": width, "height": height, "side": AVATAR_MIN_SIDE},
        )
    if max(width, height) > AVATAR_MAX_SIDE:
        return Checked(
            problem=N_("The photo is {width}×{height} px; the limit is {side} px a side."),
            params={"width": width, "height": height, "side": AVATAR_MAX_SIDE},
        )
    if file_size is not None and file_size > AVATAR_MAX_BYTES:
        return Checked(
            problem=N_("The photo is {size} MB; the limit is {limit} MB."),
            params={"size": f"{file_size / 1048576:.1f}", "limit": AVATAR_MAX_BYTES // 1048576},
        )
    if max(width, height) / min(width, height) > AVATAR_MAX_RATIO:
        return Checked(
            problem=N_("The photo is too long and thin for a profile picture; a square one works best.")
        )
    return Checked(value="ok")


def _slug(name: str) -> str:
    """ASCII letters and digits of `name`, words joined by underscores, lower case."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", ascii_text)
    return "_".join(words).lower()


def username_stem(display_name: str) -> str:
    """The start every suggestion for this name shares (look up taken usernames by this prefix)."""
    slug = _slug(display_name)
    if slug.endswith("_bot"):
        slug = slug[:-4]
    elif slug.endswith("bot"):
        slug = slug[:-3].rstrip("_")
    if not slug or not slug[0].isalpha():
        slug = "my_" + slug if slug else "my_agent"
    return slug.strip("_")


def suggest_username(
    display_name: str, taken: Iterable[str] = (), *, rng: random.Random | None = None
) -> str:
    """A valid bot username derived from the display name, not in `taken` (case-insensitive).

    The plain form (e.g. `tom_helper_bot`) comes first; otherwise a short number is added.
    """
    rng = rng or random.Random()
    taken_lower = {t.lower() for t in taken}
    slug = username_stem(display_name)
    for attempt in range(50):
        suffix = "" if attempt == 0 else f"_{rng.randint(10, 9999)}"
        base = slug[: USERNAME_MAX - len("_bot") - len(suffix)].rstrip("_")
        candidate = f"{base}{suffix}_bot"
        if len(candidate) < USERNAME_MIN:
            candidate = f"{base}_agent{suffix}_bot"
        if candidate.lower() not in taken_lower and validate_username(candidate).ok:
            return candidate
    return f"agent_{rng.randint(100000, 999999)}_bot"
