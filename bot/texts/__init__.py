"""Every text the Meet Matt bot shows, one module per thing shown. Messages are HTML (parse mode set
on the Bot).

- `menus`: welcome, /help, the main menu and command menus, /language, answers any screen may give
- `packages`: the packages' titles, prices and blurbs
- `ordering`: the /new dialogue, its refusals and the summary
- `payments`: Pay and Renew, the checkout link, the return from Stripe
- `mybots`: the /mybots list; `agent`: one agent's page in it (read as `bot.texts.agent`)
- `support`: /support and /terms
- `admin`: the team's texts (English only)
- `markup`: HTML escaping and the shared formats

Rule: every value a user typed (names, usernames, descriptions, reasons built from them) goes
through `esc()` before it is put into a message. Values we produce ourselves (numbers, statuses,
package titles from settings) are escaped too, because it costs nothing.

Languages: customer texts are English msgids marked with `N_()` (constants) or `_()` (inside
functions). Callers read everything here as `texts.NAME`: this package gathers the modules' public
names, and a translatable constant, e.g. `texts.HELP`, is served by `__getattr__` (PEP 562) in the
current customer's language. Inside its module a constant is the English msgid, and the functions
there translate it with `_()` where they read it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from bot.i18n import Msgid, _
from bot.texts import admin, markup, menus, mybots, ordering, packages, payments, support

_GATHERED = (markup, menus, packages, ordering, payments, mybots, support, admin)


def _translated(value: Any) -> Any:
    if isinstance(value, Msgid):
        return _(value)
    if isinstance(value, dict):
        return {key: _translated(item) for key, item in value.items()}
    return value


def _is_source(value: Any) -> bool:
    return isinstance(value, Msgid) or (
        isinstance(value, dict) and bool(value) and all(isinstance(v, Msgid) for v in value.values())
    )


def _public(module: ModuleType) -> dict[str, Any]:
    """The module's own constants and functions (not what it imported)."""
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (
            (name.isupper() and not callable(value))
            or (callable(value) and getattr(value, "__module__", None) == module.__name__)
        )
    }


def _gather() -> dict[str, Any]:
    names: dict[str, Any] = {}
    for module in _GATHERED:
        for name, value in _public(module).items():
            if names.get(name, value) is not value or name in globals():  # one module may import another's
                raise ImportError(f"bot.texts: {name} is defined twice ({module.__name__})")
            names[name] = value
    return names


# English sources of the translatable constants; the rest (functions, admin texts) are plain names
_SOURCE: dict[str, Any] = {}
for _name, _value in _gather().items():
    if _is_source(_value):
        _SOURCE[_name] = _value
    else:
        globals()[_name] = _value
del _name, _value


def __getattr__(name: str) -> Any:
    if name in _SOURCE:
        return _translated(_SOURCE[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
