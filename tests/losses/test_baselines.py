"""Each baseline against a direct transcription of its paper's formula."""

import math

import pytest
import torch
import torch.nn.functional as F

from autobalance.config import ConfigError
from autobalance.data.profiles import long_tail_counts
from autobalance.losses import LossSchedule
from autobalance.losses.beyond_balanced import capped_simplex
from autobalance.losses.factory import build_loss, loss_config
from autobalance.losses.priors import class_balanced_weights, ldam_margins

COUNTS = [1000, 400, 150, 60, 20, 8]
K = len(COUNTS)


def _batch(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, K, generator=g, dtype=torch.float64) * 2, torch.randint(0, K, (n,), generator=g)


def _build(name, **kw):
    return build_loss(loss_config(name, **kw), COUNTS).double()


def _priors():
    c = torch.tensor(COUNTS, dtype=torch.float64)
    return c / c.sum()


def _softmax_ce(z, y):
    return torch.stack([-(z[i, y[i]] - torch.logsumexp(z[i], 0)) for i in range(len(y))])


def test_logit_adjustment_loss():
    z, y = _batch()
    tau = 1.5
    expected = _softmax_ce(z + tau * _priors().log(), y).mean()
    torch.testing.assert_close(_build("la", tau=tau)(z, y), expected)
    torch.testing.assert_close(_build("balanced_softmax")(z, y), _softmax_ce(z + _priors().log(), y).mean())


@pytest.mark.parametrize("gamma", [0.3, -0.2])  # a negative gamma, as a search may export, reruns as loss=vs
def test_cdt_and_vs_loss(gamma):
    z, y = _batch()
    tau = 1.2
    c = torch.tensor(COUNTS, dtype=torch.float64)
    delta = (c.max() / c) ** gamma  # Kini et al.: logits divided by Delta_k = (n_max / n_k)^gamma
    torch.testing.assert_close(_build("cdt", gamma=gamma)(z, y), _softmax_ce(z / delta, y).mean())
    vs = _softmax_ce(z / delta + tau * _priors().log(), y).mean()
    torch.testing.assert_close(_build("vs", gamma=gamma, tau=tau)(z, y), vs)


def test_class_balanced_weights_and_softmax():
    beta = 0.999
    w = torch.tensor([(1 - beta) / (1 - beta**n) for n in COUNTS], dtype=torch.float64)
    w = w / w.sum() * K
    torch.testing.assert_close(class_balanced_weights(COUNTS, beta), w)
    z, y = _batch()
    torch.testing.assert_close(_build("cb_softmax", beta=beta)(z, y), (w[y] * _softmax_ce(z, y)).mean())


def test_softmax_focal_loss():
    z, y = _batch()
    gamma = 2.0
    p = torch.softmax(z, 1)[torch.arange(len(y)), y]
    torch.testing.assert_close(_build("focal", gamma=gamma)(z, y), (-(1 - p) ** gamma * p.log()).mean())
    torch.testing.assert_close(_build("focal", gamma=0.0)(z, y), F.cross_entropy(z, y))


@pytest.mark.parametrize("gamma", [0.5, 0.1])
def test_focal_loss_gradient_is_finite_for_gamma_below_one_on_confident_examples(gamma):
    z = torch.tensor([[40.0, 0.0, 0.0], [0.0, 2.0, 0.0]], requires_grad=True)  # p_0 == 1 in float32
    _build("focal", gamma=gamma)(z, torch.tensor([0, 1])).backward()
    assert torch.isfinite(z.grad).all() and z.grad[1].abs().sum() > 0


def test_class_balanced_sigmoid_focal_loss():
    z, y = _batch()
    beta, gamma = 0.999, 1.0
    w = class_balanced_weights(COUNTS, beta)
    total = 0.0
    for i in range(len(y)):
        for j in range(K):
            zt = z[i, j] if j == y[i] else -z[i, j]
            pt = torch.sigmoid(zt)
            total = total + w[y[i]] * -((1 - pt) ** gamma) * torch.log(pt)
    torch.testing.assert_close(_build("cb_focal", beta=beta, gamma=gamma)(z, y), total / len(y))


def test_ldam_margins_match_the_official_cifar10_values():
    m = ldam_margins(long_tail_counts(5000, 10, 100))
    assert math.isclose(float(m[0]), 0.158, abs_tol=5e-4) and float(m[-1]) == 0.5
    assert (m[1:] > m[:-1]).all()


def test_ldam_loss_and_drw_weighting():
    z, y = _batch()
    z = z.tanh()  # a cosine head's range
    c = torch.tensor(COUNTS, dtype=torch.float64)
    m = 1 / c**0.25
    m = m * 0.5 / m.max()
    shifted = z - F.one_hot(y, K) * m
    loss = _build("ldam", max_margin=0.5, scale=30.0)
    torch.testing.assert_close(loss(z, y), _softmax_ce(30 * shifted, y).mean())
    w = class_balanced_weights(COUNTS, 0.9999)
    schedule = LossSchedule("drw", COUNTS, start_epoch=3)
    assert schedule.on_epoch(2, loss) == "shuffle" and loss.class_weights is None
    schedule.on_epoch(3, loss)
    torch.testing.assert_close(loss(z, y), F.cross_entropy(30 * shifted, y, weight=w))


def test_deferred_resampling_switches_the_sampler():
    schedule = LossSchedule("drs", COUNTS, start_epoch=2)
    loss = _build("ce")
    assert [schedule.on_epoch(e, loss) for e in range(4)] == ["shuffle", "shuffle"] + ["class_balanced"] * 2


def test_posthoc_logit_adjustment_changes_predictions_only():
    z, y = _batch()
    loss = _build("la_posthoc", tau=1.0)
    torch.testing.assert_close(loss(z, y), F.cross_entropy(z, y))
    torch.testing.assert_close(loss.eval_logits(z), z - _priors().log())


def test_label_aware_smoothing_smooths_the_head_most_and_the_rarest_class_least():
    z, y = _batch()
    head, tail = 0.3, 0.05
    n = torch.tensor(COUNTS, dtype=torch.float64)
    eps = tail + (head - tail) * (n - n.min()) / (n.max() - n.min())  # MiSLAS's linear form
    log_p = z.log_softmax(1)
    expected = torch.stack([-(1 - eps[y[i]]) * log_p[i, y[i]] - eps[y[i]] * log_p[i].mean() for i in range(len(y))])
    torch.testing.assert_close(_build("las", smooth_head=head, smooth_tail=tail)(z, y), expected.mean())
    standard = _build("las")
    assert standard.label_smoothing()[0, 0] == pytest.approx(0.3) and float(standard.label_smoothing()[0, -1]) == 0.0


def test_generalized_cross_entropy_is_zhang_and_sabuncus_formula():
    z, y = _batch()
    p = torch.softmax(z, 1)[torch.arange(len(y)), y]
    for q in (0.7, 1.0):
        torch.testing.assert_close(_build("gce", q=q)(z, y), ((1 - p**q) / q).mean())
    torch.testing.assert_close(_build("gce", q=1e-6)(z, y), _softmax_ce(z, y).mean(), rtol=1e-4, atol=1e-5)


def test_cost_sensitive_ce_and_logit_adjustment_with_costs():
    z, y = _batch()
    costs = torch.tensor([1.0, 2.0, 0.5, 1.0, 4.0, 1.0], dtype=torch.float64)
    ce = _softmax_ce(z, y)
    expected = (costs / costs.mean())[y] * ce  # weights normalized to mean one
    torch.testing.assert_close(_build("weighted_ce", weights=costs.tolist())(z, y), expected.mean())
    offsets = 1.0 * _priors().log() - costs.log()
    torch.testing.assert_close(_build("cost_la", weights=costs.tolist())(z, y), _softmax_ce(z + offsets, y).mean())
    torch.testing.assert_close(_build("cost_la")(z, y), _build("la")(z, y))  # equal costs: LA


def test_adaptive_cost_la_is_the_logit_adjusted_loss_of_its_gains():
    z, y = _batch()
    loss = _build("adaptive_cost_la", tau=1.0)
    torch.testing.assert_close(loss(z, y), _build("la")(z, y))  # uniform costs at the start: LA
    costs = torch.rand(K, generator=torch.Generator().manual_seed(3), dtype=torch.float64) + 0.1
    loss.costs.copy_(costs / costs.sum())
    # Narasimhan and Menon's gains G_y = lambda_y / pi_y: CE on z - log G (up to one constant)
    offsets = _priors().log() - (K * costs / costs.sum()).log()
    torch.testing.assert_close(loss(z, y), _softmax_ce(z + offsets, y).mean())
    k_costs = (K * costs / costs.sum()).tolist()
    torch.testing.assert_close(loss(z, y), _build("cost_la", weights=k_costs)(z, y))


def test_adaptive_costs_step_is_exponentiated_gradient_on_the_class_errors():
    errors = torch.tensor([0.1, 0.5, 0.0, 0.9, 0.3, 0.6], dtype=torch.float64)
    worst_one = _build("adaptive_cost_la")
    worst_one.update(errors, step_size=0.5, worst=1)  # the simplex: lambda proportional to exp(eta e)
    torch.testing.assert_close(worst_one.costs, torch.softmax(0.5 * errors, 0))
    balanced = _build("adaptive_cost_la")
    balanced.update(errors, step_size=0.5, worst=K)  # every class: the costs stay uniform
    torch.testing.assert_close(balanced.costs, torch.full((K,), 1 / K, dtype=torch.float64))
    cvar = _build("adaptive_cost_la")
    for _ in range(20):
        cvar.update(errors, step_size=2.0, worst=2)
    assert cvar.costs.max() <= 0.5 + 1e-12 and abs(float(cvar.costs.sum()) - 1) < 1e-12
    assert cvar.costs.argmax() == 3 and float(cvar.costs[3]) == pytest.approx(0.5)


@pytest.mark.parametrize("cap", [0.13, 0.25, 0.5, 1.0])
def test_capped_simplex_is_the_kl_projection(cap):
    w = torch.rand(8, generator=torch.Generator().manual_seed(int(cap * 100)), dtype=torch.float64) ** 4 + 1e-3
    projected = capped_simplex(w, cap)
    # the KL projection's optimality conditions: lambda_i = min(cap, s w_i) for one s > 0 with sum 1
    lo, hi = 0.0, 1e6
    for _ in range(200):
        s = (lo + hi) / 2
        lo, hi = (s, hi) if torch.clamp(s * w, max=cap).sum() < 1 else (lo, s)
    torch.testing.assert_close(projected, torch.clamp(lo * w, max=cap))
    with pytest.raises(ConfigError, match="cap"):
        capped_simplex(w, 0.1)  # eight entries of at most 0.1 cannot sum to one
