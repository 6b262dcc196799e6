"""scripts/aggregate.py on run directories shaped like a Hydra multirun."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "aggregate.py"
spec = importlib.util.spec_from_file_location("aggregate", SCRIPT)
aggregate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(aggregate)


def _run(root: Path, name: str, cfg: dict, seed: int, error: float, seconds: float,
         val_error: float | None = None) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "per_class.csv").write_text("class,name,train_count,test_count,test_accuracy\n"
                                     "0,a,500,100,0.9\n1,b,150,100,0.7\n2,c,60,100,0.5\n")
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / "metrics.json").write_text(json.dumps({
        "dataset": "fashion_mnist", "seed": seed, "code_version": "abc123", "wall_seconds": seconds + 5,
        "phase_seconds": {"train": seconds} if not cfg["search"]["enabled"] else {"search": seconds / 2,
                                                                                  "retrain": seconds},
        "test": {"balanced_error": error, "few_shot_error": 2 * error, "worst_class_error": 3 * error},
        **({"val": {"balanced_error": val_error}} if val_error is not None else {})}))


def _cfg(loss: str, schedule: str = "none", search: bool = False, **loss_kw) -> dict:
    return {"data": {"rho": 100.0}, "loss": {"name": loss, **loss_kw}, "schedule": {"name": schedule},
            "search": {"enabled": search, "method": "last_layer", "epochs": None, "learn": ["scales", "offsets"]}}


def test_runs_are_grouped_by_method_and_reduced_over_seeds(tmp_path):
    for seed, err in enumerate([20.0, 22.0, 24.0]):
        _run(tmp_path, f"ce{seed}", _cfg("ce"), seed, err, 100.0)
        _run(tmp_path, f"ldam{seed}", _cfg("ldam", "drw", max_margin=0.5), seed, err - 5, 110.0)
        _run(tmp_path, f"vs{seed}", _cfg("vs", gamma=0.2, tau=1.0), seed, err - 6, 100.0)
        _run(tmp_path, f"ab{seed}", _cfg("ce", search=True), seed, err - 8, 100.0)
    table = {e["method"]: e for e in aggregate.summarize(aggregate.collect(tmp_path))}
    assert set(table) == {"ce", "ldam(max_margin=0.5)+drw", "vs(gamma=0.2,tau=1)",
                          "autobalance-last_layer(scales+offsets)"}
    ce = table["ce"]
    assert ce["balanced_error_mean"] == pytest.approx(22.0) and ce["balanced_error_std"] == pytest.approx(2.0)
    assert ce["seeds"] == [0, 1, 2] and ce["time_vs_erm"] == pytest.approx(1.0)
    assert table["autobalance-last_layer(scales+offsets)"]["time_vs_erm"] == pytest.approx(1.5)
    assert table["ldam(max_margin=0.5)+drw"]["few_shot_error_mean"] == pytest.approx(34.0)
    markdown = aggregate.to_markdown(list(table.values()))
    assert "| fashion_mnist | 100 | ce | 3 | 22.00 ± 2.00 |" in markdown
    assert table["ce"]["images_per_second"] != table["ce"]["images_per_second"]  # NaN: no traces


def test_a_run_resumed_under_other_code_shows_both_versions(tmp_path):
    _run(tmp_path, "ce0", _cfg("ce"), 0, 20.0, 100.0)
    _run(tmp_path, "ce1", _cfg("ce"), 1, 22.0, 100.0)
    metrics_path = tmp_path / "ce1" / "metrics.json"
    metrics_path.write_text(json.dumps({**json.loads(metrics_path.read_text()), "resumed_with": ["def456"]}))
    rows = {r["seed"]: r for r in aggregate.collect(tmp_path)}
    assert rows[0]["code_version"] == "abc123" and rows[1]["code_version"] == "abc123+def456"
    assert aggregate.summarize(list(rows.values()))[0]["code_versions"] == ["abc123", "abc123+def456"]


def test_the_final_training_error_gets_a_column_when_runs_report_it(tmp_path):
    _run(tmp_path / "old", "ce", _cfg("ce"), 0, 20.0, 100.0)
    assert "training error" not in aggregate.to_markdown(aggregate.summarize(aggregate.collect(tmp_path)))
    for seed, fit in enumerate([0.5, 1.5]):
        _run(tmp_path / "new", f"la{seed}", _cfg("la", tau=1.0), seed, 15.0, 100.0)
        metrics_path = tmp_path / "new" / f"la{seed}" / "metrics.json"
        metrics_path.write_text(json.dumps({**json.loads(metrics_path.read_text()), "train": {"error": fit}}))
    markdown = aggregate.to_markdown(aggregate.summarize(aggregate.collect(tmp_path)))
    assert "final training error % |" in markdown.splitlines()[0]
    assert markdown.splitlines()[2].endswith("| - |") and markdown.splitlines()[3].endswith("| 1.00 |")


def test_a_run_recorded_before_a_key_existed_is_labelled_by_how_it_ran(tmp_path):
    old, new = _cfg("ce", search=True), _cfg("ce", search=True)
    new["search"]["family"] = {"augment_max_ratio": 2.0}
    _run(tmp_path, "old", old, 0, 20.0, 100.0)
    _run(tmp_path, "new", new, 0, 19.0, 100.0)
    assert {r["label"] for r in aggregate.collect(tmp_path)} == {"autobalance-last_layer(scales+offsets)"}
    for cfg in (old, new):  # the key only matters to a search that learns augmentation
        cfg["search"]["learn"] = ["offsets", "augment"]
    _run(tmp_path / "augment", "old", old, 0, 20.0, 100.0)
    _run(tmp_path / "augment", "new", new, 0, 19.0, 100.0)
    roots = [(tmp_path / "augment" / name, name) for name in ("old", "new")]  # an archive beside new runs
    labels = sorted(r["label"] for r in aggregate.collect_all(roots))
    assert labels == ["autobalance-last_layer(offsets+augment) [search.family.augment_max_ratio=2.0]",
                      "autobalance-last_layer(offsets+augment) [search.family.augment_max_ratio=None]"]


def test_tuned_runs_and_the_paper_preset_get_their_own_rows(tmp_path):
    _run(tmp_path / "baselines", "la", _cfg("la", tau=1.0), 0, 17.0, 100.0)
    _run(tmp_path / "tuned" / "0", "la", _cfg("la", tau=1.0), 0, 16.0, 100.0)
    _run(tmp_path / "paper", "0", _cfg("ce", search=True), 0, 20.0, 900.0)
    hydra_dir = tmp_path / "paper" / "0" / ".hydra"
    hydra_dir.mkdir()
    (hydra_dir / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": {"search": "paper"}}}}))
    labels = sorted(r["label"] for r in aggregate.collect(tmp_path))
    assert labels == ["autobalance-last_layer(scales+offsets)-paper", "la(tau=1)", "la(tau=1) tuned"]


def test_ablation_runs_are_labelled_by_their_directory(tmp_path):
    _run(tmp_path / "lr0.02", "s0", _cfg("ce", search=True), 0, 19.0, 100.0)
    _run(tmp_path / "lr0.005", "s0", _cfg("ce", search=True), 0, 18.0, 100.0)
    assert {r["label"] for r in aggregate.collect(tmp_path)} == {"autobalance-last_layer(scales+offsets)"}
    assert sorted(r["label"] for r in aggregate.collect(tmp_path, label_by_dir=True)) == ["lr0.005", "lr0.02"]


def test_retrains_with_different_learned_losses_are_labelled_by_their_directory(tmp_path):
    for recipe in ("terminal_a", "terminal_b"):
        for seed in (0, 1):
            _run(tmp_path / recipe, f"seed{seed}", _cfg("learned", path=f"{recipe}/{seed}/learned_loss.yaml"), seed,
                 15.0 + seed + (recipe == "terminal_b"), 100.0)
    _run(tmp_path, "la", _cfg("la", tau=1.0), 0, 16.0, 100.0)
    rows = aggregate.collect(tmp_path)
    assert len({r["label"] for r in rows}) == 5  # each learned loss's path names a row of its own
    aggregate.relabel(rows, {"terminal_a": "retrain A", "terminal_b": "retrain B"})
    table = {e["method"]: e for e in aggregate.summarize(rows)}
    assert sorted(table) == ["la(tau=1)", "retrain A", "retrain B"]
    assert table["retrain A"]["seeds"] == [0, 1] and table["retrain B"]["balanced_error_mean"] == 16.5


def test_pivot_lines_up_methods_across_datasets(tmp_path):
    rows = []
    for rho, tau in ((100.0, 1.25), (10.0, 0.75)):
        for seed, err in enumerate([10.0, 12.0]):
            cfg = {**_cfg("la", tau=tau), "data": {"rho": rho}}
            _run(tmp_path / f"{rho:g}" / "tuned", f"s{seed}", cfg, seed, err + rho / 10, 10.0)
        rows += aggregate.collect(tmp_path / f"{rho:g}")
    assert aggregate.pivot(aggregate.summarize(rows)).splitlines() == [
        "| method | fashion_mnist rho=100 | fashion_mnist rho=10 |", "|---|---|---|",
        "| la tuned | 21.00 ± 1.41 | 12.00 ± 1.41 |"]


def test_pivot_keeps_every_value_of_a_grid_in_one_column(tmp_path):
    for gamma, err in ((0.05, 50.0), (0.1, 52.0)):
        _run(tmp_path, f"vs{gamma}", _cfg("vs", gamma=gamma, tau=1.0), 0, err, 10.0)
    _run(tmp_path, "la", _cfg("la", tau=1.0), 0, 51.0, 10.0)
    assert aggregate.pivot(aggregate.summarize(aggregate.collect(tmp_path))).splitlines()[2:] == [
        "| la | 51.00 ± 0.00 |", "| vs(gamma=0.05,tau=1) | 50.00 ± 0.00 |", "| vs(gamma=0.1,tau=1) | 52.00 ± 0.00 |"]


def test_tuned_labels_become_overrides():
    spec = importlib.util.spec_from_file_location("tuned_overrides", SCRIPT.parent / "tuned_overrides.py")
    tuned = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tuned)
    assert tuned.overrides("vs(gamma=0.1,tau=1.5)") == "+baseline=vs loss.gamma=0.1 loss.tau=1.5"
    assert tuned.overrides("ldam(max_margin=0.25)+drw") == "+baseline=ldam_drw loss.max_margin=0.25"
    assert tuned.overrides("ce") == "+baseline=ce"


def test_few_shot_threshold_recomputes_from_per_class_accuracies(tmp_path):
    _run(tmp_path, "ce0", _cfg("ce"), 0, 20.0, 100.0)
    (row,) = aggregate.collect(tmp_path, few_threshold=200)
    assert row["few_shot_error"] == pytest.approx(100 * (1 - (0.7 + 0.5) / 2))
    (row,) = aggregate.collect(tmp_path)
    assert row["few_shot_error"] == pytest.approx(40.0)  # the run's own metric


def test_runs_whose_settings_differ_get_rows_named_by_the_difference(tmp_path):
    for seed in range(3):
        default, anchored = _cfg("ce", search=True), _cfg("ce", search=True)
        default["search"]["outer"] = {"anchor": 0.0}  # this version's sections
        anchored["search"]["anchor"] = 0.3  # an earlier version's flat key: compared all the same
        default["logger"] = {"progress": seed == 0}  # not a setting that changes results
        _run(tmp_path / "default", f"s{seed}", default, seed, 18.0, 100.0)
        _run(tmp_path / "anchor", f"s{seed}", anchored, seed, 17.0, 100.0)
    table = {e["method"]: e for e in aggregate.summarize(aggregate.collect(tmp_path))}
    assert sorted(table) == ["autobalance-last_layer(scales+offsets) [search.outer.anchor=0.0]",
                             "autobalance-last_layer(scales+offsets) [search.outer.anchor=0.3]"]
    assert all(len(e["seeds"]) == 3 for e in table.values())


def test_a_starting_value_that_the_starting_point_does_not_read_names_no_row(tmp_path):
    for name, init, gamma in [("la", "la", 0.2), ("vs_0.1", "vs", 0.1), ("vs_0.2", "vs", 0.2)]:
        cfg = _cfg("ce", search=True)
        cfg["search"]["family"] = {"learn": ["scales", "offsets"], "init": init, "init_gamma": gamma}
        _run(tmp_path, name, cfg, 0, 15.0, 100.0)
    table = sorted(e["method"] for e in aggregate.summarize(aggregate.collect(tmp_path)))
    assert table == [f"autobalance-last_layer(scales+offsets) [search.family.init={init}{gamma}]"
                     for init, gamma in [("la", ""), ("vs", ", search.family.init_gamma=0.1"),
                                         ("vs", ", search.family.init_gamma=0.2")]]


def test_user_data_reports_its_own_imbalance_and_no_few_shot_classes_as_none(tmp_path):
    cfg = _cfg("ce")
    cfg["data"].update(rho=1.0, profile="none")
    _run(tmp_path, "run", cfg, 0, 10.0, 100.0)
    (tmp_path / "run" / "data_summary.json").write_text(json.dumps({"imbalance_ratio": 8.33}))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    metrics["test"]["few_shot_error"] = None
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(metrics))
    table = aggregate.summarize(aggregate.collect(tmp_path))
    assert table[0]["rho"] == 8.3
    assert "| fashion_mnist | 8.3 | ce | 1 | 10.00 ± 0.00 | none | 30.00 ± 0.00 |" in aggregate.to_markdown(table)


def test_runs_are_read_from_an_archive_checked_against_its_checksum(tmp_path):
    import hashlib
    import tarfile

    for seed in range(2):
        _run(tmp_path / "study" / "runs", f"ce{seed}", _cfg("ce"), seed, 20.0 + seed, 100.0)
    archive = tmp_path / "raw_runs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "study", arcname="study")
    (tmp_path / "raw_runs.tar.gz.sha256").write_text(hashlib.sha256(archive.read_bytes()).hexdigest() + "\n")
    roots = aggregate.resolve_roots(f"{archive}:*/runs", tmp_path / "scratch")
    assert [shown for _, shown in roots] == [f"{archive}:study/runs"]
    rows = aggregate.collect(*roots[0][:1], shown_as=roots[0][1])
    assert sorted(r["seed"] for r in rows) == [0, 1]
    assert rows[0]["dir"].startswith(f"{archive}:study/runs/ce")
    aggregate.relabel(rows, {"study": "the study's CE"})  # the member's first directory is a part too
    assert {r["label"] for r in rows} == {"the study's CE"}
    (tmp_path / "raw_runs.tar.gz.sha256").write_text("0" * 64 + "\n")
    with pytest.raises(SystemExit, match="does not match"):
        aggregate.resolve_roots(str(archive), tmp_path / "scratch2")


def test_labels_read_the_sectioned_search_config():
    cfg = {"search": {"enabled": True, "hypergrad": {"method": "minres"}, "family": {"learn": ["offsets"]}}}
    assert aggregate.label_of(cfg) == "autobalance-minres(offsets)"


def test_paired_differences_use_shared_seeds_and_a_t_interval(tmp_path):
    for seed, (ce, ab) in enumerate([(20.0, 18.0), (22.0, 21.0), (24.0, 21.0)]):
        _run(tmp_path, f"ce{seed}", _cfg("ce"), seed, ce, 100.0)
        _run(tmp_path, f"ab{seed}", _cfg("ce", search=True), seed, ab, 100.0)
    _run(tmp_path, "ab_unpaired", _cfg("ce", search=True, note="x"), 7, 1.0, 100.0)  # no ce with seed 7
    rows = aggregate.collect(tmp_path)
    (pair,) = [p for p in aggregate.paired_differences(rows, "ce") if p["seeds"]]
    assert pair["method"] == "autobalance-last_layer(scales+offsets)" and pair["seeds"] == [0, 1, 2]
    assert pair["mean_difference"] == pytest.approx(-2.0)
    half = 4.302653 * 1.0 / 3 ** 0.5  # t(0.975, 2) * sd([-2, -1, -3]) / sqrt(3)
    assert (pair["low"], pair["high"]) == pytest.approx((-2.0 - half, -2.0 + half), rel=1e-5)
    assert "| -2.00 | [-4.48, +0.48] |" in aggregate.paired_markdown([pair])


def test_paired_differences_on_validation_error_for_a_choice_made_on_validation(tmp_path, monkeypatch):
    for seed, (ce, ab) in enumerate([(20.0, 18.0), (22.0, 21.0), (24.0, 21.0)]):
        _run(tmp_path / "runs", f"ce{seed}", _cfg("ce"), seed, 50.0, 100.0, val_error=ce)
        _run(tmp_path / "runs", f"ab{seed}", _cfg("ce", search=True), seed, 50.0, 100.0, val_error=ab)
    out = tmp_path / "out"
    monkeypatch.setattr("sys.argv", ["aggregate.py", str(tmp_path / "runs"), "--out", str(out), "--paired-with", "ce",
                                     "--paired-metric", "val_balanced_error"])
    aggregate.main()
    paired = (out / "paired.md").read_text()
    assert "val balanced error" in paired  # the test error (equal everywhere) would pair at 0.00
    assert "| autobalance-last_layer(scales+offsets) | ce | 0,1,2 | -2.00 | [-4.48, +0.48] |" in paired


def test_paired_differences_against_several_references_share_one_table(tmp_path, monkeypatch):
    for seed, (ce, la, ab) in enumerate([(20.0, 18.0, 17.0), (22.0, 19.0, 19.0), (24.0, 21.0, 20.0)]):
        _run(tmp_path / "runs", f"ce{seed}", _cfg("ce"), seed, ce, 100.0)
        _run(tmp_path / "runs", f"la{seed}", _cfg("la", tau=1.0), seed, la, 100.0)
        _run(tmp_path / "runs", f"ab{seed}", _cfg("ce", search=True), seed, ab, 100.0)
    out = tmp_path / "out"
    argv = ["aggregate.py", str(tmp_path / "runs"), "--out", str(out),
            "--paired-with", "ce", "--paired-with", "la(tau=1)"]
    monkeypatch.setattr("sys.argv", argv)
    aggregate.main()
    paired = (out / "paired.md").read_text()
    assert "| autobalance-last_layer(scales+offsets) | ce | 0,1,2 | -3.33 |" in paired
    assert "| autobalance-last_layer(scales+offsets) | la(tau=1) | 0,1,2 | -0.67 |" in paired
    assert "| la(tau=1) | ce | 0,1,2 | -2.67 |" in paired and "| ce | la(tau=1) | 0,1,2 | +2.67 |" in paired
    monkeypatch.setattr("sys.argv", argv[:-1] + ["focal"])
    with pytest.raises(SystemExit, match="'focal': no such label"):
        aggregate.main()


def test_group_runs_get_a_group_table_and_paired_worst_group_differences(tmp_path):
    group_metrics = {"average_group_error": 10.0, "worst_group_error": 30.0, "deo": 40.0,
                     "equalized_odds_difference": 25.0, "demographic_parity_difference": 20.0}
    for seed in range(3):
        for name, shift in (("ce", 0.0), ("group_dro", -10.0 - seed)):
            _run(tmp_path, f"{name}{seed}", _cfg(name), seed, 10.0, 100.0)
            metrics_path = tmp_path / f"{name}{seed}" / "metrics.json"
            m = json.loads(metrics_path.read_text())
            m["test"].update({k: v + shift for k, v in group_metrics.items()})
            metrics_path.write_text(json.dumps(m))
    rows = aggregate.collect(tmp_path)
    table = aggregate.summarize(rows)
    markdown = aggregate.groups_markdown(table)
    assert "| fashion_mnist | group_dro | 3 | -1.00 ± 1.00 | 19.00 ± 1.00 | 29.00 ± 1.00 |" in markdown
    (pair,) = aggregate.paired_differences(rows, "ce", "worst_group_error")
    assert pair["method"] == "group_dro" and pair["mean_difference"] == pytest.approx(-11.0)


def test_a_baseline_with_its_own_sampler_is_labelled_by_it():
    cfg = _cfg("ce")
    cfg["data"]["sampler"] = "group_balanced"
    assert aggregate.label_of(cfg) == "ce+group_balanced_sampling"
    assert aggregate.label_of(_cfg("ce")) == "ce"


def test_weight_balancings_classifier_stage_counts_in_its_training_time(tmp_path):
    _run(tmp_path, "wb", _cfg("weight_balancing"), 0, 15.0, 100.0)
    metrics = json.loads((tmp_path / "wb" / "metrics.json").read_text())
    metrics["phase_seconds"]["classifier"] = 7.0
    (tmp_path / "wb" / "metrics.json").write_text(json.dumps(metrics))
    (row,) = aggregate.collect(tmp_path)
    assert row["train_seconds"] == pytest.approx(107.0)


def test_a_post_hoc_stage_is_a_method_of_its_own_and_tuning_can_select_by_the_objective(tmp_path):
    for seed in (0, 1):
        for tau, val in ((1.0, 30.0), (2.0, 20.0)):
            run = tmp_path / f"la{tau}" / f"seed{seed}"
            run.mkdir(parents=True)
            (run / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "loss": {"name": "la", "tau": tau},
                                                              "search": {"enabled": False}, "data": {"rho": 100}}))
            test = {"balanced_error": 15.0, "cvar_error": 40.0 + seed, "objective_error": 40.0 + seed,
                    "per_class_accuracy": [0.9] * 10}
            posthoc = {"test": {**test, "cvar_error": 30.0 + seed, "objective_error": 30.0 + seed},
                       "val": {"balanced_error": 16.0, "objective_error": val - 5}}
            (run / "metrics.json").write_text(json.dumps({
                "dataset": "d", "seed": seed, "test": test, "val": {"balanced_error": 50 - val, "objective_error": val},
                "posthoc": posthoc, "phase_seconds": {"train": 10.0}}))
    rows = aggregate.collect(tmp_path)
    labels = sorted({r["label"] for r in rows})
    assert labels == ["la(tau=1)", "la(tau=1)+posthoc", "la(tau=2)", "la(tau=2)+posthoc"]
    pairs = aggregate.paired_differences(rows, "la(tau=1)", "cvar_error")
    assert {p["method"]: p["mean_difference"] for p in pairs}["la(tau=1)+posthoc"] == -10.0
    table = aggregate.summarize([r for r in rows if "posthoc" not in r["label"]])
    assert aggregate.best_by_validation(table, "val_objective_error")[0]["best_method"] == "la(tau=2)"
    assert aggregate.best_by_validation(table, "val_balanced_error")[0]["best_method"] == "la(tau=1)"
    relabelled = aggregate.collect_all([(tmp_path, None)], by_dir={"la2.0": "LA, tau 2"})
    assert sorted({r["label"] for r in relabelled}) == [  # a directory's label keeps the post-hoc rows apart
        "LA, tau 2", "LA, tau 2+posthoc", "la(tau=1)", "la(tau=1)+posthoc"]


def test_the_baselines_beside_a_search_are_rows_a_sweep_can_pair_with(tmp_path):
    for seed in (0, 1):
        run = tmp_path / f"job{seed}"
        run.mkdir()
        (run / "config.yaml").write_text(yaml.safe_dump({
            "seed": seed, "loss": {"name": "ce"}, "data": {"rho": 100},
            "search": {"enabled": True, "family": {"learn": ["offsets"]}, "hypergrad": {"method": "last_layer"},
                       "compare_with": ["la", "ce"]}}))
        (run / "metrics.json").write_text(json.dumps({
            "dataset": "d", "seed": seed, "test": {"balanced_error": 10.0 + seed},
            "la_test": {"balanced_error": 11.0 + seed}, "ce_test": {"balanced_error": 15.0},
            "phase_seconds": {"search": 5.0, "retrain": 10.0, "la": 10.0, "ce": 9.0}}))
    rows = aggregate.collect(tmp_path)
    assert sorted({r["label"] for r in rows}) == ["autobalance-last_layer(offsets)", "ce", "la(tau=1)"]
    pairs = {p["method"]: p["mean_difference"] for p in aggregate.paired_differences(rows, "ce")}
    assert pairs == {"autobalance-last_layer(offsets)": -4.5, "la(tau=1)": -3.5}
    assert {r["label"]: r["train_seconds"] for r in rows if r["seed"] == 0}["la(tau=1)"] == 10.0
