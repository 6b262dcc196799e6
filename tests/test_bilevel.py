"""The search phase: behaviour on a two-class problem, resume, failure handling, every method."""

import dataclasses
import json
import math
import warnings

import numpy as np
import pytest
import torch
import yaml
from conftest import Interrupted

from autobalance.bilevel import BilevelSearch
from autobalance.config import (
    ConfigError,
    DataConfig,
    FamilyConfig,
    HypergradConfig,
    LoggerConfig,
    ObjectiveConfig,
    OptimConfig,
    OuterConfig,
    RunConfig,
    SearchConfig,
)
from autobalance.data.build import build_data
from autobalance.hypergrad import METHODS, HypergradResult, make_method
from autobalance.losses.factory import build_search_loss, loss_config
from autobalance.models import model_config
from autobalance.objectives import build_objective
from autobalance.pipeline import make_trainer, run


def _two_gaussians(path, seed=0):
    """Class 0: 2,000 points around (0, 0); class 1: 40 around (2.2, 0); unit variance."""
    rng = np.random.default_rng(seed)
    n = [2000, 40]
    x = np.concatenate([rng.normal([0, 0], 1, (n[0], 2)), rng.normal([2.2, 0], 1, (n[1], 2))])
    y = np.repeat([0, 1], n)
    tx = np.concatenate([rng.normal([0, 0], 1, (1000, 2)), rng.normal([2.2, 0], 1, (1000, 2))])
    np.savez(path / "train.npz", x=x.astype(np.float32), y=y)
    np.savez(path / "test.npz", x=tx.astype(np.float32), y=np.repeat([0, 1], 1000))


def test_learned_loss_widens_the_rare_class_margin(tmp_path):
    _two_gaussians(tmp_path)
    cfg = RunConfig(
        device="cpu",
        data=DataConfig(name="npz", path=str(tmp_path / "train.npz"), test_path=str(tmp_path / "test.npz"),
                        profile="none", rho=1, split="stratified", val_fraction=0.25, batch_size=64,
                        cache_dir=str(tmp_path)),
        model=model_config("mlp", width=16),
        optim=OptimConfig(lr=0.05, epochs=8, lr_schedule="constant", weight_decay=1e-4),
        search=SearchConfig(enabled=True, epochs=8, warmup_epochs=1, every=5, retrain=False, compare_with=[],
                            hypergrad=HypergradConfig(method="last_layer"),
                            family=FamilyConfig(learn=["offsets"], init="uniform"), outer=OuterConfig(lr=0.05)),
        logger=LoggerConfig(progress=False),
    )
    result = run(cfg, tmp_path / "run")
    learned = yaml.safe_load((tmp_path / "run" / "learned_loss.yaml").read_text())
    offset_frequent, offset_rare = learned["offsets"][0]
    # a lower training offset for the rare class forces a larger rare-class logit: a wider margin
    assert offset_rare < offset_frequent - 0.2  # (what this buys in balanced error: experiments/head_to_head/)
    assert result["test"]["balanced_error"] <= 50.0


def test_an_online_search_reports_its_models_validation_error_and_a_retrain_on_validation_does_not(
        search_config, tmp_path):
    retrained = run(search_config, tmp_path / "retrained")
    assert "val" not in retrained  # the retrain fitted train + validation: nothing left to validate on
    search_config.search.retrain = False
    search_config.search.epochs = search_config.optim.epochs
    online = run(search_config, tmp_path / "online")
    assert set(online["phase_seconds"]) == {"search"}
    val_counts = json.loads((tmp_path / "online" / "data_summary.json").read_text())["counts"]["val"]
    accuracy = online["val"]["per_class_accuracy"]  # every class has validation examples: none is NaN
    assert len(accuracy) == len(val_counts) and all(0 <= a <= 1 for a in accuracy)


def test_interrupted_search_resumes_to_the_same_learned_loss(search_config, tmp_path, stop_after):
    run(search_config, tmp_path / "full")
    with pytest.raises(Interrupted):
        run(search_config, tmp_path / "cut", epoch_callbacks=(stop_after("search", 1),))
    search_config.resume = True
    resumed = run(search_config, tmp_path / "cut")
    full = yaml.safe_load((tmp_path / "full" / "learned_loss.yaml").read_text())
    cut = yaml.safe_load((tmp_path / "cut" / "learned_loss.yaml").read_text())
    assert cut["scales"] == full["scales"] and cut["offsets"] == full["offsets"]
    full_metrics = json.loads((tmp_path / "full" / "metrics.json").read_text())
    assert resumed["test"]["per_class_accuracy"] == full_metrics["test"]["per_class_accuracy"]
    lines = (tmp_path / "cut" / "hypersteps.jsonl").read_text().splitlines()
    assert len(lines) == full_metrics["hyper_steps"]


def test_a_power_law_search_learns_two_exponents_and_exports_their_per_class_tables(search_config, tmp_path):
    search_config.search.family.learn = ["scales", "offsets"]
    search_config.search.family.parametrization = "power_law"
    result = run(search_config, tmp_path / "run")
    learned = yaml.safe_load((tmp_path / "run" / "learned_loss.yaml").read_text())
    (gamma,), (tau,) = learned["exponents"]["scales"], learned["exponents"]["offsets"]
    assert result["hyper_steps"] > 0 and gamma != 0.0 and tau != 1.0  # both moved from LA's start
    n = torch.tensor(learned["train_counts"], dtype=torch.float64)
    offsets = tau * (n / n.sum()).log()
    torch.testing.assert_close(torch.tensor(learned["scales"][0], dtype=torch.float64), (n / n.max()) ** gamma,
                               rtol=0, atol=1e-5)
    torch.testing.assert_close(torch.tensor(learned["offsets"][0], dtype=torch.float64), offsets - offsets.mean(),
                               rtol=0, atol=1e-5)


def test_cross_fitted_searches_take_turns_on_the_folds_and_export_the_mean_of_their_losses(search_config, tmp_path):
    search_config.search.folds = 2
    search_config.search.family.learn = ["offsets"]
    result = run(search_config, tmp_path / "run")
    assert set(result["phase_seconds"]) == {"search_fold0", "search_fold1", "retrain"}
    records = [json.loads(line) for line in (tmp_path / "run" / "hypersteps.jsonl").read_text().splitlines()]
    per_fold = [[r["offsets"] for r in records if r["fold"] == f] for f in (0, 1)]
    assert all(per_fold) and result["hyper_steps"] == len(records)
    window = search_config.search.export.window  # each search exports the mean of its last values
    expected = torch.stack([torch.tensor(values[-window:]).mean(0) for values in per_fold]).mean(0)
    learned = yaml.safe_load((tmp_path / "run" / "learned_loss.yaml").read_text())
    torch.testing.assert_close(torch.tensor(learned["offsets"]), expected, rtol=0, atol=1e-5)
    assert not torch.allclose(torch.tensor(per_fold[0][-1]), torch.tensor(per_fold[1][-1]))  # two searches
    search_config.search.retrain = False
    with pytest.raises(ConfigError, match="search.folds=2: expected 1 unless search.retrain=true"):
        dataclasses.replace(search_config)


def _hook(cfg, search, objective=None):
    data = build_data(cfg.data, 0)
    loss = build_search_loss(search.family.learn, search.family.init, data.train_counts)
    objective = objective or build_objective(ObjectiveConfig(), data.num_classes)
    hook = BilevelSearch(loss, data, search, objective, cfg.optim, seed=0)
    trainer = make_trainer(cfg, data, None, None, "cpu", loss=loss, phase="search", hooks=(hook,))
    return hook, trainer, loss


def test_non_finite_hypergradient_is_skipped_counted_and_never_applied(tiny_config):
    search = SearchConfig(enabled=True, epochs=2, warmup_epochs=0)
    hook, trainer, loss = _hook(tiny_config, search, objective=lambda z, y, g: z.sum() * float("nan"))
    before = {n: p.clone() for n, p in loss.named_parameters()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = hook.hyper_step(trainer.view())
    assert any("non-finite hypergradient" in str(w.message) for w in caught)
    assert record["skipped"] == 1 and not record["applied"]
    for n, p in loss.named_parameters():
        assert torch.equal(p, before[n])


def test_a_failed_linear_solve_is_warned_about_once_and_counted(tiny_config):
    """A negated Hessian (damping -100) stands in for an indefinite one: CG's first direction
    has negative curvature, and its residual ends above that of p = 0."""
    hook, trainer, _ = _hook(tiny_config, SearchConfig(enabled=True, epochs=2, warmup_epochs=0,
                                                       hypergrad=HypergradConfig(method="cg")))
    hook.method = make_method("cg", damping=-100.0, max_iter=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = [hook.hyper_step(trainer.view()) for _ in range(2)]
    assert [r["stop"] for r in records] == ["negative_curvature"] * 2
    assert all(r["residual"] > 1 and r["applied"] for r in records)
    assert sum("search.hypergrad.damping" in str(w.message) for w in caught) == 1
    assert hook.epoch_record()["hyper_steps_unsolved"] == 2


@pytest.mark.parametrize("method", METHODS)
def test_every_method_drives_the_search(tiny_config, method):
    options = {"unrolled": {"steps": 2}, "neumann": {"terms": 2}, "cg": {"max_iter": 3},
               "minres": {"max_iter": 3}}.get(method, {})
    search = SearchConfig(enabled=True, epochs=2, warmup_epochs=0, hypergrad=HypergradConfig(method, options),
                          family=FamilyConfig(learn=["scales", "offsets", "weights"]))
    hook, trainer, loss = _hook(tiny_config, search)
    before = {n: p.clone() for n, p in loss.named_parameters()}
    x, y, g = next(trainer.data.train_batches(0, 0))
    hook.before_step(trainer.view(), x, y, g)  # forward mode follows the training step; the others wait
    trainer.train_step(x, y, g)
    record = hook.hyper_step(trainer.view())
    assert record["applied"] and record["method"] == method
    assert all(not torch.equal(p, before[n]) for n, p in loss.named_parameters())
    assert len(record["scales"][0]) == 10 and np.isfinite(record["hypergrad_norm"])


def test_the_search_hands_its_optimizer_to_the_look_ahead_through_the_state(tiny_config):
    tiny_config.optim.lr = 0.03
    hook, trainer, _ = _hook(tiny_config, SearchConfig(enabled=True, epochs=2, warmup_epochs=0,
                                                       hypergrad=HypergradConfig("unrolled", {"steps": 2})))
    trainer.run_epoch()  # momentum buffers exist after a step
    state = hook._inner_optimizer_state(trainer.view())
    assert state["lr"] == pytest.approx(0.03) and set(state["momentum_buffers"]) == {
        n for n, _ in trainer.model.named_parameters()}
    record = hook.hyper_step(trainer.view())
    assert record["applied"] and hook.method.lr == 0.1  # the method object is never modified
    assert "momentum_buffers" not in hook.method_state and "lr" not in hook.state_dict()["method_state"]


def test_anchor_pulls_the_learned_loss_back_towards_its_start(tiny_config):
    """With plain SGD the anchored step differs from the free one by -lr * anchor * (phi - phi_0)."""
    lr, anchor, displacement = 0.1, 2.0, 0.3
    moved = {}
    for strength in (0.0, anchor):
        search = SearchConfig(enabled=True, epochs=2, warmup_epochs=0,
                              outer=OuterConfig(optimizer="sgd", lr=lr, momentum=0.0, clip=None, anchor=strength))
        hook, trainer, loss = _hook(tiny_config, search)
        with torch.no_grad():
            for p in loss.parameters():
                p.add_(displacement)
        before = {n: p.clone() for n, p in loss.named_parameters()}
        hook.hyper_step(trainer.view())
        moved[strength] = {n: p.detach() - before[n] for n, p in loss.named_parameters()}
    for name, free_step in moved[0.0].items():
        pull = moved[anchor][name] - free_step
        torch.testing.assert_close(pull, torch.full_like(pull, -lr * anchor * displacement))


def test_prior_width_holds_a_steady_clipped_hypergradient_that_far_from_the_start(tiny_config):
    """The rule's promise: a hypergradient at the clip norm, the same every step and spread
    evenly, leaves every entry ``prior_width`` from its start once Adam settles."""
    width = 0.4
    search = SearchConfig(enabled=True, epochs=2, warmup_epochs=0,
                          outer=OuterConfig(lr=0.01, clip=1.0, prior_width=width))
    hook, trainer, loss = _hook(tiny_config, search)
    steady = {n: torch.full_like(p, 10.0) for n, p in loss.named_parameters()}
    hook.method.compute = lambda *args: HypergradResult(steady, True)
    for _ in range(300):
        hook.hyper_step(trainer.view())
    for name, p in loss.named_parameters():
        torch.testing.assert_close(p.detach() - hook.start[name], torch.full_like(p, -width), atol=0.03, rtol=0)


def test_the_search_anneals_the_objective_temperature_over_its_hyper_step_epochs(tiny_config):
    search = SearchConfig(enabled=True, epochs=5, warmup_epochs=1)
    annealed = ObjectiveConfig("expected_error", temperature=1.0, final_temperature=0.1)
    hook, trainer, _ = _hook(tiny_config, search, objective=build_objective(annealed, 10))
    temperatures = []
    for epoch in (1, 2, 4):  # the first hyper-step epoch, the middle, the last
        trainer.epoch = epoch
        temperatures.append(hook.hyper_step(trainer.view())["temperature"])
    assert temperatures == pytest.approx([1.0, 0.1 ** (1 / 3), 0.1])


def test_search_never_touches_batchnorm_statistics(tiny_config):
    hook, trainer, _ = _hook(tiny_config, SearchConfig(enabled=True, epochs=2, warmup_epochs=0))
    before = {n: b.clone() for n, b in trainer.model.named_buffers()}
    hook.hyper_step(trainer.view())
    for n, b in trainer.model.named_buffers():
        assert torch.equal(b, before[n]), n


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_the_validation_objective_runs_the_model_as_search_val_mode_says(tiny_config, mode):
    hook, trainer, _ = _hook(tiny_config, SearchConfig(enabled=True, epochs=2, warmup_epochs=0, val_mode=mode))
    trainer.run_epoch()  # running statistics of a training epoch, unlike any one validation batch's
    _, val = hook._closures(trainer.view())
    model, objective = trainer.model, build_objective(ObjectiveConfig(), 10)
    value = val(dict(model.named_parameters()), {}).detach()
    model.train(mode == "train")
    with torch.no_grad():
        expected = sum(objective(model(x), y, g) for x, y, g in val.batches) / len(val.batches)
    model.train()
    torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)


def test_null_search_length_and_warm_up_are_fractions_of_the_full_training(tiny_config):
    tiny_config.optim.epochs = 30
    search = SearchConfig(enabled=True, retrain=True)  # epochs and warm-up left null
    data = build_data(tiny_config.data, 0)
    loss = build_search_loss(search.family.learn, search.family.init, data.train_counts)
    from autobalance.pipeline import search_optim

    optim = search_optim(tiny_config.optim, search, search.search_epochs(30))
    hook = BilevelSearch(loss, data, search, build_objective(ObjectiveConfig(), 10), optim,
                         total_epochs=tiny_config.optim.epochs)
    assert optim.epochs == 15 and hook.active_epochs == 15 and hook.first_epoch == 3
    assert not hook.is_due(2, 10) and hook.is_due(3, 10) and not hook.is_due(15, 10)


def test_group_sensitive_search_learns_group_by_class_tables(tmp_path):
    rng = np.random.default_rng(0)
    n = 1200
    y = (rng.random(n) < 0.15).astype(np.int64)          # class 1 is rare
    group = (rng.random(n) < 0.3).astype(np.int64)       # group 1 is the minority
    x = rng.normal(0, 1, (n, 4)) + np.stack([2.0 * y, 1.0 * group, 0 * y, 0 * y], 1)
    np.savez(tmp_path / "d.npz", x=x.astype(np.float32), y=y, group=group)
    cfg = RunConfig(
        device="cpu",
        data=DataConfig(name="npz", path=str(tmp_path / "d.npz"), test_fraction=0.3, profile="none", rho=1,
                        split="stratified", val_fraction=0.3, batch_size=64, cache_dir=str(tmp_path)),
        model=model_config("mlp", width=16),
        optim=OptimConfig(lr=0.05, epochs=4, lr_schedule="constant", weight_decay=1e-4),
        search=SearchConfig(enabled=True, epochs=2, warmup_epochs=0, every=3, compare_with=[],
                            family=FamilyConfig(learn=["offsets", "weights"], init="uniform")),
        objective=ObjectiveConfig(name="worst_group", temperature=0.5),
        logger=LoggerConfig(progress=False),
    )
    result = run(cfg, tmp_path / "run")
    cells = np.array(result["test"]["per_group_accuracy"])  # rows: attribute, columns: class
    assert cells.shape == (2, 2)
    assert math.isclose(result["test"]["worst_group_error"], 100 * (1 - np.nanmin(cells)))
    learned = yaml.safe_load((tmp_path / "run" / "learned_loss.yaml").read_text())
    assert learned["num_attribute_values"] == 2 and len(learned["offsets"]) == 2 and len(learned["offsets"][0]) == 2
    assert learned["offsets"][0] != learned["offsets"][1]  # the groups learned different rows


def test_default_recipe_searches_a_thousand_classes_with_clustered_parameters(tmp_path):
    rng = np.random.default_rng(0)
    k = 1000
    counts = np.maximum(3, (40 * 0.05 ** (np.arange(k) / (k - 1)))).astype(int)  # 40 down to 3 per class
    y = np.repeat(np.arange(k), counts)
    x = rng.normal(0, 1, (len(y), 8)) + 0.1 * (y[:, None] % 8 == np.arange(8))
    np.savez(tmp_path / "d.npz", x=x.astype(np.float32), y=y)
    cfg = RunConfig(
        device="cpu",
        data=DataConfig(name="npz", path=str(tmp_path / "d.npz"), test_fraction=0.2, profile="none", rho=1,
                        split="stratified", val_fraction=0.3, batch_size=128, cache_dir=str(tmp_path)),
        model=model_config("mlp", width=16),
        optim=OptimConfig(lr=0.05, epochs=2, lr_schedule="constant"),
        search=SearchConfig(enabled=True, epochs=1, warmup_epochs=0, every=20, compare_with=[],
                            family=FamilyConfig(cluster_size=100)),
        logger=LoggerConfig(progress=False),
    )
    run(cfg, tmp_path / "run")
    steps = [json.loads(line) for line in (tmp_path / "run" / "hypersteps.jsonl").read_text().splitlines()]
    assert steps and {s["path"] for s in steps} == {"minres"} and steps[0]["hessian_params"] == 17 * k
    assert all(len(s["offsets"][0]) == 10 for s in steps)  # one column per cluster of 100 classes
    learned = yaml.safe_load((tmp_path / "run" / "learned_loss.yaml").read_text())
    assert len(learned["offsets"][0]) == k and len(set(learned["offsets"][0])) <= 10
    assert (tmp_path / "run" / "hyperparameters.png").exists()


@pytest.mark.parametrize("where", ["inside a hyper-step", "mid-epoch of the retrain"])
def test_a_run_interrupted_anywhere_resumes_to_the_same_metrics(search_config, tmp_path, monkeypatch, where):
    full = run(search_config, tmp_path / "full")
    from autobalance.training.trainer import Trainer

    calls = {"n": 0}
    if where == "inside a hyper-step":
        original, target, name = BilevelSearch.hyper_step, BilevelSearch, "hyper_step"
        trigger = 2  # the third and last hyper-step (steps 7, 14, 21), in the search's second epoch
    else:
        original, target, name = Trainer.train_step, Trainer, "train_step"
        trigger = 50  # 26 search steps, then 16 per retrain epoch: the middle of the retrain's second

    def interrupting(self, *args):
        calls["n"] += 1
        if calls["n"] == trigger + 1:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(target, name, interrupting)
    with pytest.raises(KeyboardInterrupt):
        run(search_config, tmp_path / "cut")
    monkeypatch.setattr(target, name, original)
    search_config.resume = True
    resumed = run(search_config, tmp_path / "cut")
    assert resumed["test"]["per_class_accuracy"] == full["test"]["per_class_accuracy"]
    assert (yaml.safe_load((tmp_path / "cut" / "learned_loss.yaml").read_text())["offsets"]
            == yaml.safe_load((tmp_path / "full" / "learned_loss.yaml").read_text())["offsets"])


def test_a_search_without_hyper_steps_warns_that_the_loss_is_its_starting_point(search_config, tmp_path):
    search_config.search.every = 10_000
    with pytest.warns(RuntimeWarning, match="the search made no hyper-step .* its starting point \\(la\\)"):
        run(search_config, tmp_path / "run")


def test_a_search_learns_augmentation_magnitudes_with_the_offsets_and_exports_them(search_config, tmp_path):
    search_config.search.family = FamilyConfig(learn=["offsets", "augment"], augment_init=0.2)
    search_config.search.hypergrad = HypergradConfig(method="last_layer")
    result = run(search_config, tmp_path / "run")
    learned = yaml.safe_load((tmp_path / "run" / "learned_loss.yaml").read_text())
    assert learned["format"] == "autobalance.learned_loss/v3"
    ops = learned["augmentation"]["ops"]
    assert ops == ["translate", "scale", "noise"]  # all three suit MNIST-1D's signals
    steps = [json.loads(line) for line in (tmp_path / "run" / "hypersteps.jsonl").read_text().splitlines()]
    assert all({"offsets", *(f"augment_{op}" for op in ops)} <= set(s) for s in steps)
    for op in ops:  # each class's magnitude moved from its start (0.2 of the bound)
        start = 0.2 * learned["augmentation"]["bounds"][op]
        assert max(abs(m - start) for m in learned["augmentation"]["magnitudes"][op][0]) > 1e-4, op
    header = (tmp_path / "run" / "per_class.csv").read_text().splitlines()[0]
    assert all(f"augment_{op}" in header for op in ops)
    assert result["hyper_steps"] > 0 and (tmp_path / "run" / "hyperparameters.png").exists()
    reuse = dataclasses.replace(search_config, search=SearchConfig(enabled=False),
                                loss=loss_config("learned", path=str(tmp_path / "run" / "learned_loss.yaml")))
    trainer = make_trainer(reuse, build_data(reuse.data, 0, torch.device("cpu")), tmp_path / "reuse", None, "cpu")
    assert trainer.loss.augmentation.ops == tuple(ops)  # loss=learned trains with the learned magnitudes


def test_every_hyper_step_records_its_hypergradient_by_loss_parameter(search_config, tmp_path):
    search_config.search.family.learn = ["scales", "offsets"]
    run(search_config, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "hypersteps.jsonl").read_text().splitlines()]
    assert records and all(set(r["hypergrad"]) == {"raw_scales", "raw_offsets"} for r in records)
    assert all(len(r["hypergrad"]["raw_offsets"][0]) == 10 for r in records)
    assert math.isclose(math.sqrt(sum(g ** 2 for table in records[0]["hypergrad"].values() for g in table[0])),
                        records[0]["hypergrad_norm"], rel_tol=1e-4)


def test_a_forward_mode_search_follows_each_training_step_with_its_batch_and_random_draws(search_config, tmp_path,
                                                                                         monkeypatch):
    from autobalance.hypergrad.forward import ForwardModeHypergradient
    from autobalance.training.trainer import Trainer

    search_config.search.hypergrad = HypergradConfig(method="forward")
    search_config.search.family.learn = ["offsets", "augment"]  # random per-class augmentation of the input
    search_config.search.family.augment_ops = ["noise"]
    seen, taken = [], []
    advance, train_step = ForwardModeHypergradient.advance, Trainer.train_step

    def recording_advance(self, state, params, hparams, train_loss, step):
        seen.append(float(train_loss(params, hparams)))
        return advance(self, state, params, hparams, train_loss, step)

    def recording_step(self, x, y, g):
        loss = train_step(self, x, y, g)
        if self.phase == "search":
            taken.append(loss)
        return loss

    monkeypatch.setattr(ForwardModeHypergradient, "advance", recording_advance)
    monkeypatch.setattr(Trainer, "train_step", recording_step)
    result = run(search_config, tmp_path / "run")
    assert len(seen) == len(taken) > 0 and seen == pytest.approx(taken, rel=1e-5)
    records = [json.loads(line) for line in (tmp_path / "run" / "hypersteps.jsonl").read_text().splitlines()]
    assert result["hyper_steps"] == len(records) and all(r["tangent_norm"] > 0 for r in records)
