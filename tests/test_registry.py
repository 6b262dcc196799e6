import collections.abc

import pytest

from autobalance.registry import Registry


def test_a_registry_builds_by_name_and_names_the_choices_on_a_miss():
    parts = Registry("widget.name")

    @parts.register("round", sides=0)
    def round_widget(size):
        return ("round", size)

    assert parts["round"](3) == ("round", 3) and parts.metadata("round") == {"sides": 0}
    assert parts.names() == ("round",) == tuple(parts) and "round" in parts and len(parts) == 1
    assert isinstance(parts, collections.abc.Collection)  # usable wherever a list of names is
    with pytest.raises(ValueError, match="widget.name='square': expected one of round"):
        parts["square"]
    with pytest.raises(ValueError, match="registered twice"):
        parts.register("round")(round_widget)


def test_every_multi_stage_loss_names_a_registered_procedure():
    from autobalance.losses.factory import LOSSES
    from autobalance.pipeline import PROCEDURES

    named = {LOSSES.metadata(n)["procedure"] for n in LOSSES if "procedure" in LOSSES.metadata(n)}
    assert named == set(PROCEDURES) == {"jtt", "dfr", "weight_balancing", "validation_costs"}
    assert all(PROCEDURES[n].after_phase for n in PROCEDURES if PROCEDURES[n].after is not None)
