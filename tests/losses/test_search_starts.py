"""The search's starting points: each reads exactly the ``search.family.init_*`` values it names
(the tables compare runs on those alone), and a search can start where an earlier one ended."""

import pytest
import torch

from autobalance.errors import InputError
from autobalance.losses import ParametricLoss, save_loss
from autobalance.losses.factory import SEARCH_STARTS, build_search_loss
from autobalance.losses.io import load_loss, read_loss_file

COUNTS = [100, 20, 5]
NAMES = ["a", "b", "c"]
VALUES = {"tau": 1.0, "gamma": 0.2, "beta": 0.999}
DECAY = 1e-4


def _saved(path, **family) -> str:
    """A learned file whose every part is away from its start: scales, offsets, row decays, smoothing."""
    loss = ParametricLoss(3, learn=("scales", "offsets", "weight_decay", "label_smoothing"), counts=COUNTS,
                          decay_reference=DECAY, smoothing_max=0.1, **family)
    with torch.no_grad():
        for p in loss.parameters():
            p.copy_(torch.linspace(0.1, 0.4, p.numel()).reshape(p.shape))
    save_loss(path, loss, NAMES, COUNTS)
    return str(path)


@pytest.mark.parametrize("start", SEARCH_STARTS.names())
def test_a_search_start_reads_the_values_it_names_and_no_other(start, tmp_path):
    paths = {"path": _saved(tmp_path / "one.yaml")}
    base = SEARCH_STARTS[start](COUNTS, [COUNTS], **VALUES, **paths)
    reads = SEARCH_STARTS.metadata(start)["reads"]
    moves = {key: {**VALUES, key: value / 2, **paths} for key, value in VALUES.items()}
    moves["path"] = {**VALUES, "path": _saved(tmp_path / "other.yaml", parametrization="power_law")}
    for key, kwargs in moves.items():
        moved = SEARCH_STARTS[start](COUNTS, [COUNTS], **kwargs)
        unchanged = all(torch.equal(torch.as_tensor(base[part]), torch.as_tensor(moved[part])) for part in base)
        assert unchanged == (key not in reads), (start, key)


@pytest.mark.parametrize("parametrization", ["per_class", "power_law"])
def test_a_search_from_a_learned_file_starts_where_that_search_ended(tmp_path, parametrization):
    path = _saved(tmp_path / "round1.yaml", parametrization=parametrization)
    ended = build_search_loss(["offsets"], "learned", COUNTS, path=path, parametrization=parametrization,
                              decay_reference=DECAY, smoothing_max=0.1)
    again = build_search_loss(["scales", "weight_decay", "label_smoothing"], "learned", COUNTS, path=path,
                              parametrization=parametrization, decay_reference=DECAY, smoothing_max=0.1)
    file_values = load_loss(path).values()
    for loss in (ended, again):
        for table, value in loss.values().items():
            torch.testing.assert_close(value, file_values[table], rtol=1e-5, atol=1e-6, msg=table)
    assert set(again.learn) == {"scales", "weight_decay", "label_smoothing"}
    if parametrization == "power_law":  # the file's exponents, recovered from its tables
        for part, exponent in read_loss_file(path)["exponents"].items():
            torch.testing.assert_close(again.exponents()[part].double(), torch.tensor(exponent, dtype=torch.float64),
                                       rtol=1e-4, atol=1e-5, msg=part)


def test_a_learned_start_for_other_data_is_refused_by_name(tmp_path):
    path = _saved(tmp_path / "round1.yaml")
    with pytest.raises(InputError, match="holds a loss for 3 classes but the data has 4"):
        build_search_loss(["scales"], "learned", [100, 50, 20, 5], path=path, decay_reference=DECAY)
    with pytest.raises(InputError, match=r"1 attribute values but the data has 2 \(search.family.init_path\)"):
        build_search_loss(["scales"], "learned", COUNTS, [COUNTS, COUNTS], path=path, decay_reference=DECAY)
    with pytest.raises(InputError, match=r"missing.yaml does not exist \(search.family.init_path\)"):
        build_search_loss(["scales"], "learned", COUNTS, path=str(tmp_path / "missing.yaml"))
    (tmp_path / "broken.yaml").write_text("scales: [1, 2\n  - 3")
    with pytest.raises(InputError, match=r"broken.yaml is not a learned-loss file: it does not read as YAML"):
        build_search_loss(["scales"], "learned", COUNTS, path=str(tmp_path / "broken.yaml"))
    with pytest.raises(InputError, match=r"label smoothing .* outside \[0, 0.02\)"):  # the file's exceed the bound
        build_search_loss(["scales"], "learned", COUNTS, path=path, decay_reference=DECAY, smoothing_max=0.02)
