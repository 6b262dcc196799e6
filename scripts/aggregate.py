"""Collect runs (a Hydra multirun directory, or any tree of run directories) into tables.

For every run directory holding ``metrics.json`` and ``config.yaml``, the method label is the
loss (with its schedule, e.g. ``ldam+drw``) or ``autobalance-<method>`` (``-paper`` when the run
composed ``search=paper``), marked ``tuned`` when a directory on its path below the root is named
``tuned`` (as ``scripts/run_head_to_head.sh`` writes them), and followed by the settings that
differ between runs sharing it (``[search.outer.anchor=0.3]``; seeds aside); runs are grouped by
(dataset, rho, label) and reduced to mean and std over seeds of balanced error, few-shot error,
worst-class error and wall time, with the time ratio to ERM (``ce``) of the same group.

    python scripts/aggregate.py multirun/2026-11-22_12-00-00 --out experiments/baselines/fashion
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import re
import statistics
import tarfile
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import scipy.stats
import yaml

from autobalance.legacy import recorded_settings
from autobalance.losses.factory import LOSSES, SEARCH_STARTS, hyperparameters, loss_config
from autobalance.results import RunResults
from autobalance.run_dir import flat_settings

METRICS = ("balanced_error", "few_shot_error", "worst_class_error", "cvar_error", "class_error_std", "objective_error")
METRIC_HEADERS = {"balanced_error": "balanced error %", "few_shot_error": "few-shot error %",
                  "worst_class_error": "worst-class error %", "cvar_error": "CVaR error %",
                  "class_error_std": "class-error std (points)", "objective_error": "objective error"}
"""The main table's columns; those after the first three appear where a run reports them."""
GROUP_METRICS = ("average_group_error", "worst_group_error", "deo", "equalized_odds_difference",
                 "demographic_parity_difference")
"""Reported for runs whose data has an attribute (a group column); errors in %, gaps in points."""


def _hyperparameters(loss: str) -> tuple[str, ...]:
    """The hyperparameters a loss takes, from its registry entry (none for a loss not registered)."""
    return hyperparameters(loss) if loss in LOSSES else ()


def label_of(cfg: dict, search_preset: str | None = None) -> str:
    """``autobalance-<method>`` for searches; else the loss, its hyperparameters, its schedule
    and a sampler other than plain shuffling (``ce+group_balanced_sampling``)."""
    search = cfg.get("search", {})
    if search.get("enabled"):
        parts = "+".join(search.get("family", {}).get("learn", search.get("learn", [])))  # sectioned or flat
        method = search.get("hypergrad", {}).get("method", search.get("method"))
        return f"autobalance-{method}({parts})" + ("-paper" if search_preset == "paper" else "")
    loss = cfg["loss"]["name"]
    values = ",".join(f"{k}={cfg['loss'][k]:g}" for k in _hyperparameters(loss)  # numbers: not a learned file's path
                      if isinstance(cfg["loss"].get(k), int | float))
    label = f"{loss}({values})" if values else loss
    schedule = cfg.get("schedule", {}).get("name", "none")
    label = label if schedule == "none" else f"{label}+{schedule}"
    sampler = cfg.get("data", {}).get("sampler", "shuffle")
    return label if sampler == "shuffle" else f"{label}+{sampler}_sampling"


IGNORED_KEYS = ("seed", "name", "device", "resume", "eval_every", "eval_test_per_epoch", "logger", "data.cache_dir",
                "search.compare_with", "search.compare_with_ce")
"""Settings that do not change a run's result (or are the seed that rows average over)."""


def comparable_settings(cfg: dict) -> dict:
    """The flattened config minus :data:`IGNORED_KEYS`, a baseline's search settings, augmentation
    settings of a search without augmentation, starting values its starting point does not read,
    and loss hyperparameters the loss does not take (older run directories recorded placeholders)."""
    flat = recorded_settings(flat_settings(cfg))  # old and new runs compare alike
    if not cfg.get("search", {}).get("enabled"):  # a baseline: the search and its objective play no part
        flat = {k: v for k, v in flat.items() if not k.startswith(("search.", "objective."))}
    if "augment" not in (flat.get("search.family.learn") or []) and not flat.get("search.family.augment_ops"):
        flat = {k: v for k, v in flat.items() if not k.startswith("search.family.augment_")}  # no augmentation
    start = flat.get("search.family.init")
    reads = SEARCH_STARTS.metadata(start)["reads"] if start in SEARCH_STARTS else ("tau", "gamma", "beta")
    flat = {k: v for k, v in flat.items()  # init_gamma of a search that starts at LA plays no part
            if not (k.startswith("search.family.init_") and k.removeprefix("search.family.init_") not in reads)}
    takes = ("name", *_hyperparameters(cfg.get("loss", {}).get("name")))
    return {k: json.dumps(v) for k, v in flat.items() if not k.startswith(IGNORED_KEYS)
            and not (k.startswith("loss.") and k.split(".")[1] not in takes)}


def distinguish(rows: list[dict]) -> None:
    """Append the settings that differ inside a label (``[search.outer.anchor=0.3]``), so runs whose
    configs differ never merge into one row; a key differs when the runs that hold it disagree,
    and names only their rows (a search from LA holds no ``init_gamma``)."""
    by_label: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        by_label[(r["dataset"], r["rho"], r["label"])].append(r)
    for runs in by_label.values():
        keys = set.union(*(set(r["settings"]) for r in runs))
        varying = sorted(k for k in keys if len({r["settings"][k] for r in runs if k in r["settings"]}) > 1)
        for r in runs:
            named = [f"{k}={json.loads(r['settings'][k])}" for k in varying if k in r["settings"]]
            if named:
                r["label"] += " [" + ", ".join(named) + "]"


def relabel(rows: list[dict], by_dir: dict[str, str]) -> None:
    """Label the runs under a directory named PART (anywhere on their path) as ``by_dir[PART]``:
    for runs the config cannot tell apart by name, such as retrains with learned losses that
    differ only in the file they load. In an archive the member's first directory counts
    (``RUNS.tar.gz:study/...`` is under ``study``)."""
    for row in rows:
        if row.get("compared"):  # a baseline the search ran beside it keeps its own name
            continue
        parts = [part.rsplit(":", 1)[-1] for part in Path(row["dir"]).parts]
        for part, label in by_dir.items():
            if part in parts:  # the post-hoc row of a run stays apart from the run's own
                row["label"] = label + ("+posthoc" if row.get("posthoc") else "")


def few_shot_error(run_dir: Path, threshold: int) -> float | None:
    """100 * (1 - mean test accuracy of the classes with fewer than ``threshold`` training
    images), from the run's per_class.csv."""
    import csv as _csv

    with open(run_dir / "per_class.csv") as f:
        accs = [float(r["test_accuracy"]) for r in _csv.DictReader(f) if int(r["train_count"]) < threshold]
    return 100.0 * (1.0 - statistics.mean(accs)) if accs else None


def resolve_roots(spec: str, scratch: Path) -> list[tuple[Path, str]]:
    """(directory, name shown in tables) for a root given as a directory, or as an archive of run
    directories ``RUNS.tar.gz[:GLOB]`` (checked against ``RUNS.tar.gz.sha256`` when present,
    unpacked under ``scratch``), GLOB selecting subdirectories such as ``*/runs``."""
    archive, _, pattern = spec.partition(":") if ".tar.gz" in spec else (spec, "", "")
    path = Path(archive)
    if not archive.endswith(".tar.gz"):
        return [(path, str(path))]
    digest_file = path.with_name(path.name + ".sha256")
    if digest_file.exists():
        expected = digest_file.read_text().split()[0]
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise SystemExit(f"{path}: sha256 {actual} does not match {digest_file} ({expected})")
    target = scratch / hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    if not target.exists():
        with tarfile.open(path) as tar:
            tar.extractall(target, filter="data")
    found = sorted(target.glob(pattern)) if pattern else [target]
    return [(d, f"{archive}:{d.relative_to(target)}" if d != target else archive) for d in found if d.is_dir()]


def run_dir(row: dict, roots: list[tuple[Path, str | None]]) -> Path:
    """A row's run directory on disk (rows from archives name the archive member, not the
    scratch directory it was unpacked to)."""
    for root, shown_as in roots:
        if shown_as is not None and row["dir"].startswith(shown_as + "/"):
            return root / row["dir"][len(shown_as) + 1:]
    return Path(row["dir"])


def collect(root: Path, few_threshold: int | None = None, label_by_dir: bool = False,
            shown_as: str | None = None) -> list[dict]:
    """One row per run under ``root``; ``label_by_dir`` labels each run by its top directory
    below ``root`` instead (for ablations whose runs share a method label); ``shown_as`` names
    ``root`` in the runs file (an archive member rather than a scratch directory)."""
    return collect_all([(root, shown_as)], few_threshold, label_by_dir)


def collect_all(roots: list[tuple[Path, str | None]], few_threshold: int | None = None,
                label_by_dir: bool = False, by_dir: dict[str, str] | None = None) -> list[dict]:
    """:func:`collect` over several (root, shown as) pairs, whose runs' labels are told apart
    together (an archive of earlier runs beside new ones), then named by ``by_dir`` (:func:`relabel`)."""
    rows = standalone_first([r for root, shown_as in roots for r in _rows(root, few_threshold, label_by_dir, shown_as)])
    if not label_by_dir:
        distinguish(rows)
    relabel(rows, by_dir or {})
    for row in rows:
        del row["settings"]
        row.pop("compared", None)
        row.pop("posthoc", None)
    return rows


def standalone_first(rows: list[dict]) -> list[dict]:
    """Without the rows of a search's compared baselines that a run of its own already gives
    (same data, label and seed): those runs count once."""
    own = {(r["dataset"], r["rho"], r["label"], r["seed"]) for r in rows if not r.get("compared")}
    return [r for r in rows if not (r.get("compared") and (r["dataset"], r["rho"], r["label"], r["seed"]) in own)]


def _rows(root: Path, few_threshold: int | None, label_by_dir: bool, shown_as: str | None) -> list[dict]:
    rows = []
    for metrics_path in sorted(root.rglob("metrics.json")):
        cfg_path = metrics_path.parent / "config.yaml"
        if not cfg_path.exists():
            continue
        cfg = yaml.safe_load(cfg_path.read_text())
        results = RunResults.read(metrics_path.parent)
        m = results.metrics
        if "test" not in m:  # stage=search: a learned loss, no final model to tabulate
            continue
        label = label_of(cfg, _hydra_choices(metrics_path.parent).get("search"))
        if "tuned" in metrics_path.relative_to(root).parts[:-1]:
            label += " tuned"
        if label_by_dir:
            label = metrics_path.relative_to(root).parts[0]
        row = {"dataset": m.get("dataset"), "rho": _imbalance(metrics_path.parent, cfg), "label": label,
               "seed": m.get("seed"), "wall_seconds": m.get("wall_seconds"),
               "train_seconds": results.cost_seconds,
               "code_version": "+".join([m.get("code_version") or "unknown", *m.get("resumed_with", [])]),
               "dir": str(metrics_path.parent) if shown_as is None
               else f"{shown_as}/{metrics_path.parent.relative_to(root)}"}
        row.update({k: results.test.get(k) for k in METRICS + GROUP_METRICS})
        if few_threshold is not None:
            row["few_shot_error"] = few_shot_error(metrics_path.parent, few_threshold)
        row["val_balanced_error"] = m.get("val", {}).get("balanced_error")
        row["val_objective_error"] = m.get("val", {}).get("objective_error")
        row["train_error"] = m.get("train", {}).get("error")
        row["images_per_second"] = _mean_throughput(metrics_path.parent / "epochs.jsonl")
        row["loss"] = cfg["loss"]["name"] if not cfg.get("search", {}).get("enabled") else "autobalance"
        objective = cfg.get("objective", {}) if cfg.get("search", {}).get("enabled") else {}
        row["objective"] = objective.get("name", "")
        row["fairness_weight"] = objective.get("fairness_weight") if row["objective"] == "trade_off" else None
        row["settings"] = comparable_settings(cfg)
        rows.append(row)
        for name in results.compared:  # search.compare_with: same seed, data and schedule as the search
            baseline = {**cfg, "search": {"enabled": False}, "loss": dataclasses.asdict(loss_config(name))}
            rows.append({**row, "label": label_of(baseline), "loss": name, "objective": "", "compared": True,
                         "train_seconds": results.phase_seconds.get(name), "val_balanced_error": None,
                         "val_objective_error": None, "images_per_second": None,
                         **{k: m[f"{name}_test"].get(k) for k in METRICS + GROUP_METRICS}})
        if "posthoc" in m:  # the same model with its post-hoc offsets: a method of its own
            posthoc = m["posthoc"]
            rows.append({**row, "label": f"{label}+posthoc", "posthoc": True,
                         **{k: posthoc["test"].get(k) for k in METRICS},
                         "val_balanced_error": posthoc["val"].get("balanced_error"),
                         "val_objective_error": posthoc["val"].get("objective_error")})
    return rows


def _imbalance(run_dir: Path, cfg: dict) -> float:
    """The configured rho for a long-tail profile; the data's own ratio (from data_summary.json)
    for data kept as it is (``data.profile=none``: a user's npz or CSV)."""
    summary = run_dir / "data_summary.json"
    if cfg["data"].get("profile") == "none" and summary.exists():
        return round(json.loads(summary.read_text())["imbalance_ratio"], 1)
    return cfg["data"]["rho"]


def _hydra_choices(run_dir: Path) -> dict:
    """The config-group choices Hydra recorded for a run (empty outside Hydra)."""
    path = run_dir / ".hydra" / "hydra.yaml"
    return yaml.safe_load(path.read_text())["hydra"]["runtime"]["choices"] if path.exists() else {}


def _mean_throughput(path: Path) -> float | None:
    """Mean training images/s over all logged epochs (all phases), or None without a trace."""
    if not path.exists():
        return None
    values = [json.loads(line).get("images_per_second") for line in path.read_text().splitlines() if line]
    values = [v for v in values if v]
    return statistics.mean(values) if values else None


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return float("nan"), float("nan")
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["rho"], r["label"])].append(r)
    erm_time = {(d, rho): _mean_std([r["train_seconds"] for r in runs])[0]
                for (d, rho, label), runs in groups.items() if label == "ce"}  # ERM
    table = []
    for (dataset, rho, label), runs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        entry = {"dataset": dataset, "rho": rho, "method": label, "seeds": sorted(r["seed"] for r in runs),
                 "code_versions": sorted({r["code_version"] for r in runs})}
        for k in METRICS + GROUP_METRICS:
            entry[f"{k}_mean"], entry[f"{k}_std"] = _mean_std([r[k] for r in runs])
        entry["train_seconds_mean"], _ = _mean_std([r["train_seconds"] for r in runs])
        entry["train_seconds_total"] = sum(r["train_seconds"] for r in runs)
        entry["images_per_second"], _ = _mean_std([r["images_per_second"] for r in runs])
        entry["val_balanced_error_mean"], _ = _mean_std([r["val_balanced_error"] for r in runs])
        entry["val_objective_error_mean"], _ = _mean_std([r["val_objective_error"] for r in runs])
        entry["train_error_mean"], _ = _mean_std([r["train_error"] for r in runs])
        entry["loss"] = runs[0]["loss"]
        entry["objective"], entry["fairness_weight"] = runs[0]["objective"], runs[0]["fairness_weight"]
        base = erm_time.get((dataset, rho))
        entry["time_vs_erm"] = entry["train_seconds_mean"] / base if base else None
        table.append(entry)
    return table


def paired_differences(rows: list[dict], reference: str, metric: str = "balanced_error") -> list[dict]:
    """Per (dataset, rho) and method: the mean over shared seeds of (method - ``reference``) in
    ``metric``, with a two-sided 95 % t-interval (seeds pair data, split and initialization)."""
    by_key: dict[tuple, dict[int, float]] = defaultdict(dict)
    for r in rows:
        by_key[(r["dataset"], r["rho"], r["label"])][r["seed"]] = r[metric]
    out = []
    for (dataset, rho, label), values in sorted(by_key.items()):
        base = by_key.get((dataset, rho, reference))
        if label == reference or base is None:
            continue
        seeds = sorted(set(values) & set(base))
        diffs = [values[s] - base[s] for s in seeds]
        if not diffs:
            continue
        mean = statistics.mean(diffs)
        half = (scipy.stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
                if len(diffs) > 1 else float("nan"))
        out.append({"dataset": dataset, "rho": rho, "method": label, "reference": reference, "seeds": seeds,
                    "mean_difference": mean, "low": mean - half, "high": mean + half})
    return out


def paired_markdown(pairs: list[dict], metric: str = "balanced error") -> str:
    lines = [f"| dataset | rho | method | minus | seeds | paired difference in {metric} (points) | 95 % interval |",
             "|---|---|---|---|---|---|---|"]
    for p in pairs:
        interval = "-" if p["low"] != p["low"] else f"[{p['low']:+.2f}, {p['high']:+.2f}]"
        lines.append(f"| {p['dataset']} | {p['rho']:g} | {p['method']} | {p['reference']} | "
                     f"{','.join(map(str, p['seeds']))} | {p['mean_difference']:+.2f} | {interval} |")
    return "\n".join(lines)


def to_markdown(table: list[dict]) -> str:
    """The main table; with a final training error in the runs (runs since the interpolation
    study), also that error, averaged over seeds."""
    fit = any(e["train_error_mean"] == e["train_error_mean"] for e in table)
    shown = [k for k in METRICS if k in METRICS[:3] or any(e[f"{k}_mean"] == e[f"{k}_mean"] for e in table)]
    lines = ["| dataset | rho | method | seeds | " + " | ".join(METRIC_HEADERS[k] for k in shown)
             + " | train s | x ERM time | images/s |" + (" final training error % |" if fit else ""),
             "|---|---|---|---|" + "---|" * len(shown) + "---|---|---|" + ("---|" if fit else "")]
    for e in table:
        cells = [f"{e[f'{k}_mean']:.2f} ± {e[f'{k}_std']:.2f}" if e[f"{k}_mean"] == e[f"{k}_mean"] else "none"
                 for k in shown]  # NaN: no class below the few-shot threshold
        ratio = "-" if e["time_vs_erm"] is None else f"{e['time_vs_erm']:.2f}"
        speed = "-" if e["images_per_second"] != e["images_per_second"] else f"{e['images_per_second']:,.0f}"
        fitted = "" if not fit else " - |" if e["train_error_mean"] != e["train_error_mean"] \
            else f" {e['train_error_mean']:.2f} |"
        lines.append(f"| {e['dataset']} | {e['rho']:g} | {e['method']} | {len(e['seeds'])} | "
                     + " | ".join(cells) + f" | {e['train_seconds_mean']:.0f} | {ratio} | {speed} |" + fitted)
    return "\n".join(lines)


def groups_markdown(table: list[dict]) -> str:
    """Group robustness and fairness per method (runs with an attribute only)."""
    lines = ["| dataset | method | seeds | average-group error % | worst-group error % | DEO (points) "
             "| equalized-odds diff. | demographic-parity diff. | train s | x ERM time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for e in table:
        if e["worst_group_error_mean"] != e["worst_group_error_mean"]:  # NaN: no attribute
            continue
        cells = [f"{e[f'{k}_mean']:.2f} ± {e[f'{k}_std']:.2f}" for k in GROUP_METRICS]
        ratio = "-" if e["time_vs_erm"] is None else f"{e['time_vs_erm']:.2f}"
        lines.append(f"| {e['dataset']} | {e['method']} | {len(e['seeds'])} | " + " | ".join(cells)
                     + f" | {e['train_seconds_mean']:.0f} | {ratio} |")
    return "\n".join(lines)


def pivot(table: list[dict]) -> str:
    """Balanced error (mean ± std) with one row per method and one column per (dataset, rho);
    baselines' hyperparameter values are dropped from the row name so settings line up, unless
    one column holds several values of a loss (a tuning grid), which then keep their names."""
    columns = sorted({(e["dataset"], e["rho"]) for e in table}, key=lambda c: (c[0], -c[1]))

    def short(e: dict) -> str:
        return e["method"] if e["loss"] == "autobalance" else re.sub(r"\([^)]*\)", "", e["method"])

    per_column = Counter((short(e), e["dataset"], e["rho"]) for e in table)
    cells: dict[str, dict[tuple, str]] = defaultdict(dict)
    for e in table:
        name = short(e) if per_column[(short(e), e["dataset"], e["rho"])] == 1 else e["method"]
        cells[name][(e["dataset"], e["rho"])] = f"{e['balanced_error_mean']:.2f} ± {e['balanced_error_std']:.2f}"
    lines = ["| method | " + " | ".join(f"{d} rho={rho:g}" for d, rho in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for name, row in sorted(cells.items()):
        lines.append(f"| {name} | " + " | ".join(row.get(c, "-") for c in columns) + " |")
    return "\n".join(lines)


def best_by_validation(table: list[dict], metric: str = "val_balanced_error") -> list[dict]:
    """Per (dataset, rho, loss): the hyperparameter setting with the lowest mean validation
    ``metric`` (balanced error, or the objective's own error), and the compute the whole grid took."""
    best: dict[tuple, dict] = {}
    key_of = f"{metric}_mean"
    for e in table:
        if e[key_of] != e[key_of]:  # NaN: no validation metrics
            continue
        key = (e["dataset"], e["rho"], e["loss"])
        grid = best.setdefault(key, {"dataset": e["dataset"], "rho": e["rho"], "loss": e["loss"],
                                     "grid_size": 0, "tuning_seconds": 0.0, "best": None})
        grid["grid_size"] += 1
        grid["tuning_seconds"] += e["train_seconds_total"]
        if grid["best"] is None or e[key_of] < grid["best"][key_of]:
            grid["best"] = e
    return [{**g, "best_method": g["best"]["method"], "selected_by": metric, "validation": g["best"][key_of],
             "best": None} for g in best.values()]


def plot(table: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(table) + 2), 3.8))
    names = [f"{e['method']}\n{e['dataset']} ρ={e['rho']:g}" for e in table]
    ax.bar(range(len(table)), [e["balanced_error_mean"] for e in table],
           yerr=[e["balanced_error_std"] for e in table], capsize=3, color="tab:blue")
    ax.set_xticks(range(len(table)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("balanced test error (%)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", help="multirun or run directories, or RUNS.tar.gz[:GLOB] archives of them")
    parser.add_argument("--out", type=Path, required=True, help="output prefix directory")
    parser.add_argument("--few-threshold", type=int, default=None,
                        help="few-shot = classes with fewer training images than this (default: the "
                             "run's own metric, < 20)")
    parser.add_argument("--label-by-dir", action="store_true",
                        help="label each run by its top directory below the root (ablations)")
    parser.add_argument("--label-dir", metavar="PART=LABEL", action="append", default=[],
                        help="label the runs under a directory named PART as LABEL (repeatable)")
    parser.add_argument("--tuning", action="store_true",
                        help="also pick each loss's best setting on validation (--select-by)")
    parser.add_argument("--select-by", default="val_balanced_error",
                        choices=("val_balanced_error", "val_objective_error"),
                        help="the validation metric --tuning chooses by (val_objective_error: the objective's own)")
    parser.add_argument("--paired-with", metavar="LABEL", action="append", default=[],
                        help="also report every method's paired difference to this method's label "
                             "(same seeds), with a 95 %% interval, in paired.md; repeat it for "
                             "several references")
    parser.add_argument("--paired-metric", default="balanced_error",
                        choices=(*METRICS, *GROUP_METRICS, "val_balanced_error", "val_objective_error"),
                        help="the metric of the paired differences (default: balanced_error; "
                             "val_balanced_error: the final model's on the validation split, for choices)")
    args = parser.parse_args()
    if any("=" not in spec for spec in args.label_dir):
        parser.error(f"--label-dir {args.label_dir}: expected PART=LABEL")
    with tempfile.TemporaryDirectory() as scratch:
        roots = [r for spec in args.roots for r in resolve_roots(spec, Path(scratch))]
        rows = collect_all(roots, args.few_threshold, args.label_by_dir,
                           dict(spec.split("=", 1) for spec in args.label_dir))
    if not rows:
        raise SystemExit(f"no run with metrics.json and config.yaml under {[str(r) for r in args.roots]}")
    table = summarize(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "runs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(args.out / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    markdown = to_markdown(table)
    if any(e["worst_group_error_mean"] == e["worst_group_error_mean"] for e in table):
        markdown += "\n\n" + groups_markdown(table)
    if args.tuning:
        chosen = best_by_validation(table, args.select_by)
        (args.out / "tuned.json").write_text(json.dumps([{k: v for k, v in c.items() if k != "best"}
                                                         for c in chosen], indent=2) + "\n")
        markdown += f"\n\n| dataset | rho | loss | grid size | chosen by validation | {args.select_by} % " \
                    "| tuning compute (s) |\n|---|---|---|---|---|---|---|\n"
        markdown += "\n".join(f"| {c['dataset']} | {c['rho']:g} | {c['loss']} | {c['grid_size']} | "
                               f"{c['best_method']} | {c['validation']:.2f} | {c['tuning_seconds']:.0f} |"
                               for c in chosen)
    if args.paired_with:
        pairs = []
        for reference in args.paired_with:
            against = paired_differences(rows, reference, args.paired_metric)
            if not against:
                raise SystemExit(f"--paired-with {reference!r}: no such label with shared seeds; labels are "
                                 f"{sorted({r['label'] for r in rows})}")
            pairs += against
        paired = paired_markdown(pairs, args.paired_metric.replace("_", " "))
        (args.out / "paired.md").write_text(paired + "\n")
        markdown += "\n\n" + paired
    (args.out / "summary.md").write_text(markdown + "\n")
    (args.out / "pivot.md").write_text(pivot(table) + "\n")
    plot(table, args.out / "balanced_error.png")
    print(markdown)


if __name__ == "__main__":
    main()
