"""How the learned tables travelled during the search: drift or random walk, and the same way on
every seed or not, from the hyper-step traces (``hypersteps.jsonl``) of one or more sweeps.

Per method (as ``scripts/aggregate.py`` labels it) and learned table, over classes and seeds:
the mean net change from the first to the last hyper-step, the mean path length (the sum of the
per-step changes' sizes), their ratio (straightness: 1 for a straight line, about
1 / sqrt(steps) for a random walk of equal steps) and how many classes moved the same way on
every seed. With Adam each step is of the order of ``lr`` whatever the hypergradient's size, so
a straight path says the hypergradient's sign held, not that it was large. Tables: scales,
offsets, weights and augmentation magnitudes (``augment_<op>``), whichever the search learned.
Cross-fitted searches (``search.folds``) count each fold as one search.

With ``--exponents``, each power-law search's exponents instead (gamma of the scales, tau of the
offsets, -beta of the loss weights, recovered from the traced tables and the run's training
counts): first, largest and last value, and on how many hyper-steps each rose, over the whole
search and over its second half; a drift rises on nearly every step, an exponent that has found
its level on about half.

    python scripts/hyperstep_drift.py experiments/interpolation/fashion_mnist_lt/runs \
        --out experiments/interpolation/fashion_mnist_lt
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import yaml

from autobalance.losses.power_law import fit_exponents, log_relative_frequency

_spec = importlib.util.spec_from_file_location("aggregate", Path(__file__).with_name("aggregate.py"))
aggregate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aggregate)

TABLES = ("scales", "offsets", "weights")
EXPONENTS = {"scales": ("gamma", True, False), "offsets": ("tau", False, True), "weights": ("-beta", True, True)}
"""Per traced table: its exponent's name, whether the table is its logarithm's exp, and whether the
exponent ignores a constant shift (the offsets are stored with mean zero, the weights with mean one)."""


def search_paths(trace: Path) -> list[dict[str, np.ndarray]]:
    """Each search's path (one per fold) as {table: (hyper-steps, classes)}, first group row."""
    by_fold: dict[int, list[dict]] = defaultdict(list)
    for line in trace.read_text().splitlines():
        record = json.loads(line)
        if record.get("applied", True):
            by_fold[record.get("fold", 0)].append(record)
    return [{t: np.array([r[t][0] for r in records]) for t in records[0] if is_table(t)}
            for _, records in sorted(by_fold.items()) if len(records) >= 2]


def is_table(key: str) -> bool:
    return key in TABLES or key.startswith("augment_")


def collect(roots: list[tuple[Path, str | None]], label_by_dir: bool = False) -> dict[tuple[str, str], list]:
    """{(label, table): [(hyper-steps, classes) path per search]} over the runs with traces."""
    paths: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
    for row in aggregate.collect_all(roots, label_by_dir=label_by_dir):
        trace = aggregate.run_dir(row, roots) / "hypersteps.jsonl"
        if not trace.exists():
            continue
        for search in search_paths(trace):
            for table, path in search.items():
                paths[(row["label"], table)].append(path)
    if not paths:
        raise SystemExit(f"no hyper-step trace under {', '.join(str(r) for r, _ in roots)}")
    return paths


def drift(paths: list[np.ndarray]) -> dict[str, float]:
    """Net change, path length, straightness and one-way classes of a method's searches."""
    net = np.stack([p[-1] - p[0] for p in paths])
    length = np.stack([np.abs(np.diff(p, axis=0)).sum(0) for p in paths])
    signs = np.sign(net)
    return {"searches": len(paths), "steps": float(np.mean([len(p) for p in paths])),
            "net": float(np.abs(net).mean()), "path": float(length.mean()),
            "straightness": float(np.abs(net).sum() / max(length.sum(), 1e-12)),
            "one_way": int(((signs == signs[0]).all(0) & (signs[0] != 0)).sum()), "classes": net.shape[1]}


def exponent_rows(roots: list[tuple[Path, str | None]], label_by_dir: bool = False) -> list[dict]:
    """One row per power-law search and learned part: its exponent's path summarized."""
    rows = []
    for row in aggregate.collect_all(roots, label_by_dir=label_by_dir):
        directory = aggregate.run_dir(row, roots)
        learned, trace = directory / "learned_loss.yaml", directory / "hypersteps.jsonl"
        if not (learned.exists() and trace.exists()):
            continue
        exported = yaml.safe_load(learned.read_text())
        if exported.get("parametrization") != "power_law":
            continue
        shape = log_relative_frequency(exported["train_counts"]).double()
        for fold, search in enumerate(search_paths(trace)):
            for table in exported["learned_parts"]:
                if table not in search:
                    continue
                name, logarithm, shift_invariant = EXPONENTS[table]
                values = torch.from_numpy(np.log(search[table]) if logarithm else search[table]).double()
                path = fit_exponents(values, shape, shift_invariant).squeeze(-1).numpy()
                rows.append({"label": row["label"], "seed": row["seed"], "fold": fold, "exponent": name,
                             **exponent_path(path)})
    if not rows:
        raise SystemExit(f"no power-law search with a trace under {', '.join(str(r) for r, _ in roots)}")
    return rows


def exponent_path(path: np.ndarray) -> dict[str, float]:
    """First, largest and last value of an exponent's path, and its rises (all steps, second half)."""
    steps = np.diff(path)
    late = steps[len(steps) // 2:]
    return {"steps": len(steps), "first": float(path[0]), "largest": float(path.max()), "last": float(path[-1]),
            "rises": int((steps > 0).sum()), "late_rises": int((late > 0).sum()), "late_steps": len(late)}


def exponents_markdown(rows: list[dict]) -> list[str]:
    lines = ["| method | seed | exponent | first | largest | last | rose on (all steps) | rose on (second half) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["label"], r["exponent"], r["seed"], r["fold"])):
        lines.append(f"| {r['label']} | {r['seed']} | {r['exponent']} | {r['first']:.3f} | {r['largest']:.3f} "
                     f"| {r['last']:.3f} | {r['rises']} of {r['steps']} | {r['late_rises']} of {r['late_steps']} |")
    return lines


def markdown(paths: dict[tuple[str, str], list]) -> list[str]:
    lines = ["| method | table | searches | hyper-steps | mean net change | mean path | straightness | "
             "classes moving one way in every search |", "|---|---|---|---|---|---|---|---|"]
    for (label, table), runs in sorted(paths.items()):
        d = drift(runs)
        lines.append(f"| {label} | {table} | {d['searches']} | {d['steps']:.0f} | {d['net']:.3f} | {d['path']:.3f} "
                     f"| {d['straightness']:.2f} | {d['one_way']} of {d['classes']} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", help="run directories or RUNS.tar.gz[:GLOB] archives of them")
    parser.add_argument("--out", type=Path, help="write hyperstep_drift.md here")
    parser.add_argument("--label-by-dir", action="store_true", help="label each run by its top directory")
    parser.add_argument("--exponents", action="store_true",
                        help="each power-law search's exponents, step by step (hyperstep_exponents.md)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        roots = [r for spec in args.roots for r in aggregate.resolve_roots(spec, Path(scratch))]
        lines = (exponents_markdown(exponent_rows(roots, args.label_by_dir)) if args.exponents
                 else markdown(collect(roots, args.label_by_dir)))
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        name, title = (("hyperstep_exponents.md", "How the power-law exponents moved during the search")
                       if args.exponents else ("hyperstep_drift.md", "How the learned tables moved during the search"))
        (args.out / name).write_text(f"{title} (scripts/hyperstep_drift.py):\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
