"""autobalance.Search in a plain PyTorch loop: hyper-steps when due, the learned loss exported
and read back as a fixed nn.Module loss; the README's loop example runs as written."""

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from autobalance import Search
from autobalance.config import ConfigError
from autobalance.losses import load_loss

README = Path(__file__).resolve().parents[1] / "README.md"
COUNTS = [200, 60, 20]


def _data():
    gen = torch.Generator().manual_seed(0)
    y = torch.cat([torch.full((n,), k) for k, n in enumerate(COUNTS)])
    x = torch.randn(len(y), 6, generator=gen) + 2 * nn.functional.one_hot(y, 6).float()
    yv = torch.arange(3).repeat(10)
    xv = torch.randn(len(yv), 6, generator=gen) + 2 * nn.functional.one_hot(yv, 6).float()
    return x, y, xv, yv


def _loop(search: Search, model: nn.Module, x, y, steps: int) -> list[int]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    taken = []
    for step in range(steps):
        idx = torch.arange(step * 16, step * 16 + 16) % len(y)
        loss = search.loss(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if search.step(optimizer, x[idx], y[idx]) is not None:
            taken.append(search.steps)
    return taken


def test_hyper_steps_come_every_few_steps_between_start_and_stop_and_move_the_loss(tmp_path):
    torch.manual_seed(0)
    x, y, xv, yv = _data()
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    search = Search(model, COUNTS, xv, yv, head="2", every=4, start=8, stop=30, outer_lr=0.05)
    start = search.loss.offsets().detach().clone()
    assert _loop(search, model, x, y, 40) == [8, 12, 16, 20, 24, 28]
    assert len(search.records) == 6 and all(r["applied"] for r in search.records)
    assert not torch.allclose(search.loss.offsets().detach(), start)
    path = search.export(tmp_path / "learned_loss.yaml", ["a", "b", "c"])
    fixed = load_loss(path)
    assert not any(p.requires_grad for p in fixed.parameters())
    torch.testing.assert_close(fixed.offsets(), search.frozen_loss().offsets(), atol=1e-5, rtol=0)
    z, t = torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1])
    torch.testing.assert_close(fixed(z, t), search.frozen_loss()(z, t), atol=1e-5, rtol=0)


def test_a_search_with_no_hyper_step_exports_its_start(tmp_path):
    x, y, xv, yv = _data()
    model = nn.Sequential(nn.Linear(6, 3))
    search = Search(model, COUNTS, xv, yv, head="0", start=100)
    _loop(search, model, x, y, 5)
    assert search.records == []
    torch.testing.assert_close(load_loss(search.export(tmp_path / "l.yaml")).offsets(),
                               search.loss.offsets().detach(), atol=1e-5, rtol=0)


def test_settings_a_loop_cannot_serve_are_refused_by_name():
    x, y, xv, yv = _data()
    model = nn.Linear(6, 3)
    with pytest.raises(ConfigError, match="method='forward': expected a method that needs no tangents"):
        Search(model, COUNTS, xv, yv, method="forward")
    with pytest.raises(ConfigError, match="stop=3: expected > start=5"):
        Search(model, COUNTS, xv, yv, start=5, stop=3)


def test_the_readme_loop_example_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text()
    section = text[text.index("## Your own training loop"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README loop example", "exec"), {})
    hyper_steps, objective = capsys.readouterr().out.split()
    assert int(hyper_steps) == 10 and float(objective) > 0
    assert (tmp_path / "learned_loss.yaml").exists()
