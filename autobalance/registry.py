"""Named builders of one part (data sources, models, losses, objectives, hypergradient methods,
loss schedules): a part's names live in its registry alone, and the configuration is checked
against it, so adding one is one decorated function in one file.

>>> SHAPES = Registry("shape.name")
>>> @SHAPES.register("square", corners=4)      # keyword arguments: metadata of the entry
... def square(side):
...     return side * side
>>> SHAPES["square"](3), SHAPES.metadata("square"), SHAPES.names()
(9, {'corners': 4}, ('square',))
>>> SHAPES["circle"]
Traceback (most recent call last):
...
autobalance.errors.InputError: shape.name='circle': expected one of square

Losses and models register with their settings class: ``register_loss`` and ``register_model``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from autobalance.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


class Registry(Generic[F]):
    """Names -> builders; ``key`` is the config key the name comes from, for messages."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._builders: dict[str, F] = {}
        self._metadata: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **metadata: Any) -> Callable[[F], F]:
        def add(builder: F) -> F:
            if name in self._builders:
                raise InputError(f"{self.key}: {name!r} is registered twice")
            self._builders[name], self._metadata[name] = builder, metadata
            return builder

        return add

    def names(self) -> tuple[str, ...]:
        return tuple(self._builders)

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)

    def __contains__(self, name: object) -> bool:
        return name in self._builders

    def __getitem__(self, name: str) -> F:
        if name not in self._builders:
            raise InputError(f"{self.key}={name!r}: expected one of {', '.join(self._builders)}")
        return self._builders[name]

    def metadata(self, name: str) -> dict[str, Any]:
        self[name]  # noqa: B018 - the same error for an unknown name
        return self._metadata[name]
