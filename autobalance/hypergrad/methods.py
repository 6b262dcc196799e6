"""The contract of a hypergradient method and its registry: each method's module registers its
builders beside its class (``@register_method("cg")``), and :func:`make_method` builds one by name
and checks it keeps the contract."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from autobalance.hypergrad.types import HypergradResult, LossFn, Params
from autobalance.registry import Registry


@runtime_checkable
class HypergradMethod(Protocol):
    """What a search (:class:`autobalance.bilevel.BilevelSearch`) asks of a method.

    - ``closures_needed(batches)``: how many training closures one call takes, given the
      ``search.batches`` the search draws (their mean for implicit methods, one per look-ahead step
      for ``unrolled``, none for ``forward``).
    - ``compute(params, hparams, train_loss, val_loss, state)``: the hypergradient of ``val_loss``
      with respect to ``hparams`` (a :class:`HypergradResult`; ``finite=False`` is never applied).
      ``state`` is the previous result's ``state`` (``unrolled``'s momentum buffers, ``forward``'s
      tangents), ``{}`` at the first call.
    - Under torchrun each rank's closures hold its shard of every batch: a method passes every
      value and derivative it takes of a closure through
      :func:`autobalance.hypergrad.closures.averaged_over_shards`, so that every rank computes the
      hypergradient of the whole batch and the ranks' loss parameters stay equal.
    - A method that follows training sets ``carries_tangents = True`` and has
      ``advance(state, params, hparams, train_loss, step) -> state``, which the search calls before
      every training step from epoch ``from_epoch`` on (``forward``).
    """

    def closures_needed(self, batches: int) -> int: ...

    def compute(self, params: Params, hparams: Params, train_loss: LossFn | Sequence[LossFn], val_loss: LossFn,
                state: dict[str, Any] | None = None) -> HypergradResult: ...


MethodBuilder = Callable[..., HypergradMethod]
B = TypeVar("B", bound=MethodBuilder)
METHODS: Registry[MethodBuilder] = Registry("search.hypergrad.method")
"""Hypergradient methods by name: ``builder(subset, damping, **options)``."""


def register_method(name: str) -> Callable[[B], B]:
    """Register ``builder(subset, damping, **options) -> HypergradMethod`` under ``name``."""
    return METHODS.register(name)


def make_method(name: str, subset: tuple[str, ...] | None = None, damping: float = 0.0,
                **options: Any) -> HypergradMethod:
    """Build a method by name. ``subset`` restricts the Hessian of implicit methods
    (``last_layer`` defaults to the ``head`` module: a dense exact solve for small heads,
    MINRES beyond ``dense_max_size`` parameters); other options go to the solver."""
    method = METHODS[name](subset, damping, **options)
    if not isinstance(method, HypergradMethod):
        missing = [m for m in ("closures_needed", "compute") if not callable(getattr(method, m, None))]
        raise TypeError(f"search.hypergrad.method={name!r} built {type(method).__name__}, which lacks "
                        f"{', '.join(missing)}: expected the HypergradMethod contract")
    if getattr(method, "carries_tangents", False) and not callable(getattr(method, "advance", None)):
        raise TypeError(f"search.hypergrad.method={name!r}: carries_tangents without an advance method")
    return method
