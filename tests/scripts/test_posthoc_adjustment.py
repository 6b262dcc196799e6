"""scripts/posthoc_adjustment.py on logits whose bias towards the frequent classes is known."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "posthoc_adjustment.py"
spec = importlib.util.spec_from_file_location("posthoc_adjustment", SCRIPT)
posthoc_adjustment = importlib.util.module_from_spec(spec)
spec.loader.exec_module(posthoc_adjustment)


def _biased_logits(bias: float, n: int = 400, k: int = 4, seed: int = 0):
    """Balanced labels, class evidence plus ``bias * log pi``: a shift of ``bias`` removes the bias."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    log_prior = torch.log(torch.tensor([0.6, 0.25, 0.1, 0.05], dtype=torch.float64))
    evidence = 2.0 * torch.nn.functional.one_hot(y, k).double() + torch.randn(n, k, generator=g, dtype=torch.float64)
    return evidence + bias * log_prior, y, log_prior


@pytest.mark.parametrize("bias", [-0.5, 0.0, 0.8])
def test_balanced_error_is_least_where_the_shift_removes_the_known_bias(bias):
    logits, y, log_prior = _biased_logits(bias)
    curves = posthoc_adjustment.measure_curves(logits, y, log_prior)
    assert abs(posthoc_adjustment.least_at(curves["balanced_error"]) - bias) <= 0.3
    assert abs(posthoc_adjustment.least_at(curves["balanced_ce"]) - bias) <= 0.15  # a smooth, proper score
    zero = list(posthoc_adjustment.GRID).index(0.0)
    unshifted = 100 * (1 - sum(float((logits.argmax(1)[y == c] == c).double().mean()) for c in range(4)) / 4)
    assert curves["balanced_error"][zero] == pytest.approx(unshifted)


def test_ties_go_to_the_shift_nearest_zero():
    flat = posthoc_adjustment.GRID * 0.0
    assert posthoc_adjustment.least_at(flat) == 0.0


@pytest.mark.slow  # a training run in a subprocess
def test_an_online_search_s_final_model_is_read_back_as_it_was_evaluated(tmp_path, cache_dir):
    out = tmp_path / "online"
    args = ["data.num_samples=2000", "data.test_per_class=30", "data.n_max=170", "data.rho=10",
            f"data.cache_dir={cache_dir}", "model.width=8", "optim.epochs=3", "device=cpu", "search=online",
            "search.compare_with=[]", "search.family.parametrization=power_law", "search.family.learn=[scales,offsets]",
            "logger.progress=false", f"hydra.run.dir={out}"]
    proc = subprocess.run([sys.executable, "-m", "autobalance.train", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    evaluated = json.loads((out / "metrics.json").read_text())["val"]["balanced_error"]
    row, train_mode = posthoc_adjustment.run_rows(out, ("eval", "train"))
    assert row["balanced_error_at_zero"] == pytest.approx(evaluated)  # the same model, split and classes
    assert row["exponents"]["offsets"][0] != 1.0  # tau moved: the search's own model was read
    assert train_mode["mode"] == "train" and 0 <= train_mode["balanced_error_at_zero"] <= 100
