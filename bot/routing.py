"""Router templates: handler modules declare their handlers once and every Dispatcher gets a fresh Router.

aiogram attaches a Router to one parent only, while tests, the bench and `main.py run` may build
several Dispatchers in one process. A `RouterTemplate` records the decorated handlers and `build()`
registers them on a new Router each time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router


class RouterTemplate:
    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[tuple[str, tuple[Any, ...], dict[str, Any], Callable[..., Any]]] = []

    def _observer(self, event: str) -> Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]:
        def with_filters(*filters: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
            def register(func: Callable[..., Any]) -> Callable[..., Any]:
                self._handlers.append((event, filters, kwargs, func))
                return func

            return register

        return with_filters

    def __getattr__(self, event: str) -> Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]:
        if event.startswith("_"):
            raise AttributeError(event)
        return self._observer(event)

    def build(self) -> Router:
        router = Router(name=self.name)
        for event, filters, kwargs, func in self._handlers:
            router.observers[event].register(func, *filters, **kwargs)
        return router
