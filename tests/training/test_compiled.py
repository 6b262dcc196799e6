"""compile=true: the compiled training step trains as the eager one does (CPU, inductor), for
the plain loss and for a search, with a bounded number of graphs. Slow tier: compiling takes
tens of seconds."""

import dataclasses

import pytest
import torch
import yaml

from autobalance.data.build import build_data
from autobalance.pipeline import make_trainer, run
from autobalance.training.compiled import compiled_graphs

pytestmark = pytest.mark.slow


def _trained(cfg, compile: bool, out_dir):
    torch.manual_seed(0)
    data = build_data(cfg.data, cfg.seed)
    trainer = make_trainer(dataclasses.replace(cfg, compile=compile), data, out_dir, None, torch.device("cpu"))
    trainer.fit()
    return trainer


def test_a_compiled_run_trains_as_the_eager_one_with_one_graph_per_batch_shape(tiny_config, tmp_path):
    eager = _trained(tiny_config, False, tmp_path / "eager")
    before = compiled_graphs()
    compiled = _trained(tiny_config, True, tmp_path / "compiled")
    graphs = compiled_graphs() - before
    assert 1 <= graphs <= 2  # the full batch and the last partial batch, compiled once over two epochs
    for e, c in zip(eager.history, compiled.history, strict=True):
        assert c["train_loss"] == pytest.approx(e["train_loss"], rel=1e-4)
    for name, p in eager.model.state_dict().items():
        torch.testing.assert_close(compiled.model.state_dict()[name], p, atol=1e-4, rtol=1e-4)


def test_a_compiled_search_learns_the_eager_searchs_loss(search_config, tmp_path):
    results = {}
    for compile in (False, True):
        out = tmp_path / str(compile)
        run(dataclasses.replace(search_config, compile=compile), out)
        results[compile] = yaml.safe_load((out / "learned_loss.yaml").read_text())
    torch.testing.assert_close(torch.tensor(results[True]["offsets"]), torch.tensor(results[False]["offsets"]),
                               atol=1e-3, rtol=0)
