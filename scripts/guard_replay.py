"""Replay committed searches' validation objectives through the guard (:mod:`autobalance.guard`):
which searches it would back off, and at which hyper-step first.

A search's trace (``hypersteps.jsonl``) records the objective it minimized at every hyper-step
(``val_loss``; each fold of a cross-fitted search is its own search). Fed to an
:class:`~autobalance.guard.ObjectiveGuard` with the given settings, the first back-off of a
search that ran without it is exact; what the search would have done after it is not known, so
only the first is reported. Searches that behaved should never back off; a runaway should, early.

    python scripts/guard_replay.py experiments/*/raw_runs.tar.gz --out experiments/guard
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from collections import defaultdict
from pathlib import Path

from autobalance.guard import ObjectiveGuard

_spec = importlib.util.spec_from_file_location("aggregate", Path(__file__).with_name("aggregate.py"))
aggregate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aggregate)


def objectives(trace: Path) -> list[list[float]]:
    """Each search's validation objective per hyper-step, one list per fold."""
    by_fold: dict[int, list[float]] = defaultdict(list)
    for line in trace.read_text().splitlines():
        record = json.loads(line)
        if record.get("val_loss") is not None:
            by_fold[record.get("fold", 0)].append(float(record["val_loss"]))
    return [values for _, values in sorted(by_fold.items())]


def first_backoff(values: list[float], **settings: float) -> tuple[int, str] | None:
    """(hyper-step, reason) of the guard's first back-off over ``values``; None if it never would."""
    guard = ObjectiveGuard(**settings)
    for step, value in enumerate(values):
        if guard.observe(value) < 1.0:
            return step, guard.reason
    return None


def replay(roots: list[tuple[Path, str | None]], **settings: float) -> list[dict]:
    rows = []
    for run in aggregate.collect_all(roots):
        trace = aggregate.run_dir(run, roots) / "hypersteps.jsonl"
        if not trace.exists():
            continue
        for fold, values in enumerate(objectives(trace)):
            hit = first_backoff(values, **settings)
            rows.append({"run": run["dir"], "label": run["label"], "seed": run["seed"], "fold": fold,
                         "hyper_steps": len(values), "first_backoff": None if hit is None else hit[0],
                         "reason": "" if hit is None else hit[1]})
    return rows


def markdown(rows: list[dict], settings: dict[str, float]) -> list[str]:
    fired = [r for r in rows if r["first_backoff"] is not None]
    lines = [f"Guard settings: {', '.join(f'{k} {v}' for k, v in settings.items())}.", "",
             f"{len(rows)} searches replayed; {len(fired)} would back off.", ""]
    if fired:
        lines += ["| run | seed | fold | hyper-steps | first back-off at | why |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['run']} | {r['seed']} | {r['fold']} | {r['hyper_steps']} | {r['first_backoff']} | "
                  f"{r['reason']} |" for r in fired]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", help="run directories or RUNS.tar.gz[:GLOB] archives of them")
    parser.add_argument("--out", type=Path, help="write guard_replay.md and guard_replay.jsonl here")
    defaults = ObjectiveGuard()
    for name in ("window", "rise", "drawdown"):
        parser.add_argument(f"--{name}", type=type(getattr(defaults, name)), default=getattr(defaults, name))
    args = parser.parse_args()
    settings = {"window": args.window, "rise": args.rise, "drawdown": args.drawdown}
    with tempfile.TemporaryDirectory() as scratch:
        roots = [r for spec in args.roots for r in aggregate.resolve_roots(spec, Path(scratch))]
        rows = replay(roots, **settings)
    lines = markdown(rows, settings)
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "guard_replay.md").write_text("The guard replayed on committed searches "
                                                  "(scripts/guard_replay.py):\n\n" + "\n".join(lines) + "\n")
        (args.out / "guard_replay.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
