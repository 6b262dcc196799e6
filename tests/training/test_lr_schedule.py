import math

import pytest

from autobalance.config import OptimConfig
from autobalance.training.lr_schedule import lr_at


def test_ldam_drw_schedule():
    cfg = OptimConfig(lr=0.1, epochs=200, warmup_epochs=5, lr_schedule="step", milestones=[160, 180],
                      decay=0.01)
    assert [lr_at(cfg, e) for e in range(5)] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert lr_at(cfg, 159) == 0.1
    assert lr_at(cfg, 160) == pytest.approx(1e-3) and lr_at(cfg, 199) == pytest.approx(1e-5)


def test_cosine_schedule_decays_to_zero():
    cfg = OptimConfig(lr=0.2, epochs=11, lr_schedule="cosine")
    assert lr_at(cfg, 0) == pytest.approx(0.2)
    assert lr_at(cfg, 5) == pytest.approx(0.1 * (1 + math.cos(math.pi * 5 / 11)))
    assert lr_at(cfg, 10) < lr_at(cfg, 9) < lr_at(cfg, 1)
