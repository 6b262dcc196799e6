"""Every registered method keeps the contract a search relies on; one that does not is named."""

import pytest
import torch

from autobalance.hypergrad import METHODS, HypergradMethod, make_method
from autobalance.hypergrad.types import make_result


@pytest.mark.parametrize("name", METHODS.names())
def test_every_registered_method_keeps_the_contract(name):
    method = make_method(name)
    assert isinstance(method, HypergradMethod)
    assert method.closures_needed(3) >= 0
    if getattr(method, "carries_tangents", False):
        assert callable(method.advance)


class ZeroHypergradient:
    """A method of one's own: the zero hypergradient, from no training closure."""

    def closures_needed(self, batches):
        return 0

    def compute(self, params, hparams, train_loss, val_loss, state=None):
        return make_result({k: torch.zeros_like(v) for k, v in hparams.items()}, True, {}, 0.0)


def test_a_method_of_ones_own_is_built_by_name(monkeypatch):
    monkeypatch.setitem(METHODS._builders, "zero", lambda subset, damping, **options: ZeroHypergradient())
    monkeypatch.setitem(METHODS._metadata, "zero", {})
    params, hparams = {"w": torch.ones(2)}, {"offsets": torch.zeros(2)}
    result = make_method("zero").compute(params, hparams, [], lambda p, h: (p["w"] * h["offsets"]).sum())
    assert result.finite and torch.equal(result.grads["offsets"], torch.zeros(2))


def test_a_builder_that_breaks_the_contract_is_named(monkeypatch):
    monkeypatch.setitem(METHODS._builders, "broken", lambda subset, damping, **options: object())
    monkeypatch.setitem(METHODS._metadata, "broken", {})
    with pytest.raises(TypeError, match="method='broken' built object, which lacks closures_needed, compute"):
        make_method("broken")
